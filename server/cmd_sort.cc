// SORT and SORT_RO (sort.c): sorts a list, set or sorted set numerically or as strings (ALPHA),
// by the elements themselves or by other keys (BY pattern, hash fields with "->", BY without '*'
// skips sorting), with GET patterns, LIMIT, ASC/DESC and, for SORT, STORE into a list.
// Depends on server/, storage/{hash,list,set,zset}.h.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/errors.h"
#include "server/args.h"
#include "server/command.h"
#include "storage/hash.h"
#include "storage/list.h"
#include "storage/number.h"
#include "storage/set.h"
#include "storage/zset.h"

namespace docket::server {

namespace {

namespace errors = protocol::errors;
using storage::Value;
using storage::ValueType;

constexpr std::string_view kNotDouble = "One or more scores can't be converted into double";

struct SortRequest {
  bool desc = false;
  bool alpha = false;
  bool dontsort = false;  // a BY pattern without '*' was given (it stays set, as in Redis)
  int64_t limit_start = 0;
  int64_t limit_count = -1;
  std::optional<std::string_view> by;
  std::vector<std::string_view> gets;
  std::optional<std::string_view> store;
};

// One element and what it sorts by: a score, or (ALPHA with BY) the string found through the
// pattern, absent when there was none.
struct SortItem {
  std::string obj;
  double score = 0;
  std::optional<std::string> cmp;
};

// The output range, 0-based and inclusive (end < start when empty).
struct Window {
  int64_t start = 0, end = -1;
  int64_t size() const { return end - start + 1; }
};

// sortCommandGeneric's option loop: replies and returns false at the first bad option.
bool ParseSortArgs(CommandContext& ctx, bool readonly, SortRequest* q) {
  for (size_t j = 2; j < ctx.argc(); j++) {
    std::string_view a = ctx.arg(j);
    size_t left = ctx.argc() - j - 1;
    if (OptionIs(a, "asc")) {
      q->desc = false;
    } else if (OptionIs(a, "desc")) {
      q->desc = true;
    } else if (OptionIs(a, "alpha")) {
      q->alpha = true;
    } else if (OptionIs(a, "limit") && left >= 2) {
      if (!storage::StringToInt64(ctx.arg(j + 1), &q->limit_start) ||
          !storage::StringToInt64(ctx.arg(j + 2), &q->limit_count)) {
        ctx.reply.Error(errors::kNotInteger);
        return false;
      }
      j += 2;
    } else if (!readonly && OptionIs(a, "store") && left >= 1) {
      q->store = ctx.arg(++j);
    } else if (OptionIs(a, "by") && left >= 1) {
      q->by = ctx.arg(++j);
      if (CString(*q->by).find('*') == std::string_view::npos) q->dontsort = true;
    } else if (OptionIs(a, "get") && left >= 1) {
      q->gets.push_back(ctx.arg(++j));
    } else {
      ctx.reply.Error(errors::kSyntax);
      return false;
    }
  }
  return true;
}

// lookupKeyByPattern: "#" is the element itself; otherwise the first '*' is replaced by the
// element and the key read, as a string or, with "->field", as a hash field. Redis reads the
// pattern with C-string functions, so a NUL in it ends the search for '*' and "->".
std::optional<std::string> LookupByPattern(CommandContext& ctx, std::string_view pattern,
                                           std::string_view subst) {
  std::string_view cpat = CString(pattern);
  if (cpat == "#") return std::string(subst);
  size_t star = cpat.find('*');
  if (star == std::string_view::npos) return std::nullopt;
  size_t arrow = cpat.find("->", star + 1);
  size_t fieldlen = 0;
  if (arrow != std::string_view::npos && arrow + 2 < cpat.size()) {
    fieldlen = pattern.size() - arrow - 2;
  }
  size_t postfix = pattern.size() - (star + 1) - (fieldlen != 0 ? fieldlen + 2 : 0);
  std::string key(pattern.substr(0, star));
  key.append(subst).append(pattern.substr(star + 1, postfix));
  Value* v = ctx.LookupRead(key);
  if (v == nullptr) return std::nullopt;
  if (fieldlen == 0) {
    if (!v->is_string()) return std::nullopt;
    return v->str();
  }
  if (v->type() != ValueType::kHash) return std::nullopt;
  std::optional<std::string_view> field =
      v->As<storage::HashObject>().Get(pattern.substr(arrow + 2));
  if (!field) return std::nullopt;
  return std::string(*field);
}

size_t ObjectSize(Value* v) {
  if (v == nullptr) return 0;
  switch (v->type()) {
    case ValueType::kList:
      return v->As<storage::ListObject>().size();
    case ValueType::kSet:
      return v->As<storage::SetObject>().size();
    default:
      return v->As<storage::ZSetObject>().size();
  }
}

// The LIMIT sanity checks of sortCommandGeneric, over an object of len elements.
Window LimitWindow(const SortRequest& q, int64_t len) {
  Window w;
  w.start = std::min(std::max<int64_t>(q.limit_start, 0), len);
  int64_t count = std::min(std::max<int64_t>(q.limit_count, -1), len);
  w.end = count < 0 ? len - 1 : w.start + count - 1;
  if (w.start >= len) {
    w.start = len - 1;
    w.end = len - 2;
  }
  if (w.end >= len) w.end = len - 1;
  return w;
}

// An unsorted list or sorted set: only the window is loaded, in native order (reversed for
// DESC), and the window becomes the whole vector.
void LoadWindow(Value* v, bool desc, Window* w, std::vector<SortItem>* items) {
  if (w->end >= w->start) {
    auto push = [&](std::string_view e) { items->push_back({std::string(e), 0, std::nullopt}); };
    int64_t len = static_cast<int64_t>(ObjectSize(v));
    int64_t lo = desc ? len - 1 - w->end : w->start;
    int64_t hi = desc ? len - 1 - w->start : w->end;
    if (v->type() == ValueType::kList) {
      v->As<storage::ListObject>().Range(lo, hi, push);
    } else {
      auto& z = v->As<storage::ZSetObject>();
      for (auto* x = z.AtRank(lo); x != nullptr && lo <= hi; x = x->next(), lo++) push(x->member());
    }
    if (desc) std::reverse(items->begin(), items->end());
  }
  *w = Window{0, static_cast<int64_t>(items->size()) - 1};
}

// Every element, in the object's own order.
void LoadAll(Value* v, std::vector<SortItem>* items) {
  auto push = [&](std::string_view e) { items->push_back({std::string(e), 0, std::nullopt}); };
  if (v == nullptr) return;
  if (v->type() == ValueType::kList) {
    auto& l = v->As<storage::ListObject>();
    if (!l.empty()) l.Range(0, l.size() - 1, push);
  } else if (v->type() == ValueType::kSet) {
    v->As<storage::SetObject>().ForEach(push);
  } else {
    auto& z = v->As<storage::ZSetObject>();
    for (auto* x = z.First(); x != nullptr; x = x->next()) push(x->member());
  }
}

// The scores (or ALPHA BY strings) to sort by. False when one cannot be read as a double
// (strtod over the C string, as Redis: leading blanks, hex and "inf" pass; NaN, junk and
// out-of-range values do not).
bool LoadSortKeys(CommandContext& ctx, const SortRequest& q, std::vector<SortItem>* items) {
  bool ok = true;
  for (SortItem& item : *items) {
    std::optional<std::string> by;
    if (q.by) {
      by = LookupByPattern(ctx, *q.by, item.obj);
      if (!by) continue;
    }
    if (q.alpha) {
      if (q.by) item.cmp = std::move(by);
      continue;
    }
    std::string text(CString(q.by ? *by : item.obj));
    char* end = nullptr;
    errno = 0;
    item.score = std::strtod(text.c_str(), &end);
    if (*end != '\0' || errno == ERANGE || std::isnan(item.score)) ok = false;
  }
  return ok;
}

int CompareBytes(std::string_view a, std::string_view b) {
  int c = a.compare(b);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

// sortCompare: ALPHA compares with strcoll (the server's LC_COLLATE), or byte-wise when storing,
// so that what is stored does not depend on the locale.
int CompareStrings(const std::string& a, const std::string& b, bool store) {
  return store ? CompareBytes(a, b) : strcoll(a.c_str(), b.c_str());
}

int SortCompare(const SortRequest& q, const SortItem& a, const SortItem& b) {
  int cmp;
  if (!q.alpha) {
    cmp = a.score > b.score ? 1 : a.score < b.score ? -1 : CompareBytes(a.obj, b.obj);
  } else if (q.by) {
    if (!a.cmp || !b.cmp) {
      cmp = a.cmp.has_value() == b.cmp.has_value() ? 0 : !a.cmp ? -1 : 1;
    } else {
      cmp = CompareStrings(*a.cmp, *b.cmp, q.store.has_value());
    }
  } else {
    cmp = CompareStrings(a.obj, b.obj, q.store.has_value());
  }
  return q.desc ? -cmp : cmp;
}

// The elements of the window, with each GET pattern after its element (GET replaces it).
template <typename Fn>
void EmitWindow(CommandContext& ctx, const SortRequest& q, const std::vector<SortItem>& items,
                Window w, Fn&& emit) {
  for (int64_t j = w.start; j <= w.end; j++) {
    if (q.gets.empty()) emit(std::optional<std::string>(items[j].obj));
    for (std::string_view pattern : q.gets) emit(LookupByPattern(ctx, pattern, items[j].obj));
  }
}

// STORE: the output replaces dst as a list (TTL dropped); an empty output deletes dst.
void StoreSorted(CommandContext& ctx, const SortRequest& q, const std::vector<SortItem>& items,
                 Window w) {
  std::string_view dst = *q.store;
  auto list = std::make_unique<storage::ListObject>();
  EmitWindow(ctx, q, items, w,
             [&](const std::optional<std::string>& e) { list->PushBack(e.value_or("")); });
  int64_t n = static_cast<int64_t>(list->size());
  if (n > 0) {
    ctx.db.Set(dst, Value::Object(ValueType::kList, std::move(list)));
    ctx.KeyModified(dst);
    ctx.Notify('l', "sortstore", dst);
    ctx.Dirty(n);
  } else if (ctx.db.Delete(dst)) {
    ctx.KeyModified(dst);
    ctx.Notify('g', "del", dst);
    ctx.Dirty();
  }
  ctx.reply.Integer(n);
}

void ReplySorted(CommandContext& ctx, const SortRequest& q, const std::vector<SortItem>& items,
                 Window w) {
  size_t per = q.gets.empty() ? 1 : q.gets.size();
  ctx.reply.ArrayHeader(per * static_cast<size_t>(std::max<int64_t>(w.size(), 0)));
  EmitWindow(ctx, q, items, w, [&](const std::optional<std::string>& e) {
    e ? ctx.reply.Bulk(*e) : ctx.reply.NullBulk();
  });
}

void SortGeneric(CommandContext& ctx, bool readonly) {
  SortRequest q;
  if (!ParseSortArgs(ctx, readonly, &q)) return;
  Value* v = ctx.LookupRead(ctx.arg(1));
  ValueType type = v != nullptr ? v->type() : ValueType::kList;
  if (type != ValueType::kList && type != ValueType::kSet && type != ValueType::kZSet) {
    return ctx.reply.Error(errors::kWrongType);
  }
  if (q.dontsort && type == ValueType::kSet && q.store) {
    // A set's order is arbitrary: what is stored (and replayed) must not depend on it. Redis
    // also does this when the caller is a Lua script (CLIENT_SCRIPT).
    q.dontsort = false;
    q.alpha = true;
    q.by.reset();
  }
  if (type == ValueType::kZSet) v->As<storage::ZSetObject>().ConvertToSkiplist();
  Window w = LimitWindow(q, static_cast<int64_t>(ObjectSize(v)));
  std::vector<SortItem> items;
  if (q.dontsort && type != ValueType::kSet && v != nullptr) {
    LoadWindow(v, q.desc, &w, &items);
  } else {
    LoadAll(v, &items);
  }
  if (!q.dontsort) {
    if (!LoadSortKeys(ctx, q, &items)) return ctx.reply.Error(kNotDouble);
    std::stable_sort(items.begin(), items.end(), [&](const SortItem& a, const SortItem& b) {
      return SortCompare(q, a, b) < 0;
    });
  }
  q.store ? StoreSorted(ctx, q, items, w) : ReplySorted(ctx, q, items, w);
}

// SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA] [STORE dst]
void CmdSort(CommandContext& ctx) { SortGeneric(ctx, false); }

// SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
void CmdSortRo(CommandContext& ctx) { SortGeneric(ctx, true); }

}  // namespace

void RegisterSortCommands(CommandTable& table) {
  table.Register("sort", CmdSort);
  table.Register("sort_ro", CmdSortRo);
}

}  // namespace docket::server
