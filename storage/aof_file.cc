// The AOF file layer: POSIX file operations behind AofEnv, Redis 7.0's manifest syntax and error
// texts (aofLoadManifestFromFile, getAofManifestAsString), and the atomic manifest replace.
#include "storage/aof_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace docket::storage {
namespace {

// Not O_APPEND: the padding ahead of the data is overwritten in place, so the write position is
// ours to keep (Truncate moves it back with the end of the file).
class PosixAofFile : public AofWritableFile {
 public:
  explicit PosixAofFile(int fd) : fd_(fd) {}
  ~PosixAofFile() override { close(fd_); }
  ssize_t Write(const char* data, size_t n) override { return write(fd_, data, n); }
  int Fsync() override { return fdatasync(fd_); }
  int Truncate(off_t size) override {
    if (ftruncate(fd_, size) != 0) return -1;
    return lseek(fd_, size, SEEK_SET) < 0 ? -1 : 0;
  }
  int WritePadding(off_t at, size_t n) override {
    static char block[64 * 1024 + 1];  // starts at an even offset; +1 for an odd one
    if (block[0] == 0) {
      for (size_t i = 0; i < sizeof(block); i++) block[i] = AofPaddingByteAt(i);
    }
    while (n > 0) {
      size_t len = std::min(n, sizeof(block) - 1);
      ssize_t w = pwrite(fd_, block + at % 2, len, at);
      if (w <= 0) return -1;
      at += w;
      n -= static_cast<size_t>(w);
    }
    return 0;
  }
  int fd() const override { return fd_; }

 private:
  int fd_;
};

std::vector<std::string_view> SplitWords(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) i++;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') i++;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && strchr(" \t\r\n", s.front()) != nullptr) s.remove_prefix(1);
  while (!s.empty() && strchr(" \t\r\n", s.back()) != nullptr) s.remove_suffix(1);
  return s;
}

std::string ParseLine(std::string_view line, AofInfo* ai) {
  std::vector<std::string_view> argv = SplitWords(line);
  if (argv.size() < 6 || argv.size() % 2 != 0) return "Invalid AOF manifest file format";
  bool have_type = false;
  for (size_t i = 0; i < argv.size(); i += 2) {
    if (argv[i] == "file") {
      ai->file_name = std::string(argv[i + 1]);
    } else if (argv[i] == "seq") {
      ai->file_seq = strtoll(std::string(argv[i + 1]).c_str(), nullptr, 10);
    } else if (argv[i] == "type") {
      ai->file_type = static_cast<AofFileType>(argv[i + 1][0]);
      have_type = true;
    }  // unknown keys are skipped for forward compatibility, as Redis does
  }
  if (ai->file_name.empty() || ai->file_seq == 0 || !have_type) {
    return "Invalid AOF manifest file format";
  }
  return "";
}

}  // namespace

std::unique_ptr<AofWritableFile> AofEnv::OpenAppend(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return nullptr;
  if (lseek(fd, 0, SEEK_END) < 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return nullptr;
  }
  return std::make_unique<PosixAofFile>(fd);
}

int AofEnv::WriteFileSynced(const std::string& path, std::string_view contents) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  PosixAofFile file(fd);
  int err_no = 0;
  if (WriteAll(&file, contents.data(), contents.size(), &err_no) != contents.size()) {
    errno = err_no;
    return -1;
  }
  return file.Fsync();
}

int AofEnv::Rename(const std::string& from, const std::string& to) {
  return rename(from.c_str(), to.c_str());
}

int AofEnv::FsyncDir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  int saved = errno;
  close(fd);
  errno = saved;
  return rc;
}

int AofEnv::Remove(const std::string& path) { return unlink(path.c_str()); }

int AofEnv::MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) return 0;
  return -1;
}

int AofEnv::ReadFile(const std::string& path, std::string* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  out->clear();
  char buf[64 * 1024];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out->append(buf, static_cast<size_t>(n));
  int saved = errno;
  close(fd);
  errno = saved;
  return n < 0 ? -1 : 0;
}

int64_t AofEnv::FileSize(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return -1;
  return st.st_size;
}

int AofEnv::TrimPadding(const std::string& path) {
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? 0 : -1;
  struct stat st;
  int rc = fstat(fd, &st);
  off_t end = rc == 0 ? st.st_size : 0;
  char buf[64 * 1024];
  bool more = rc == 0;
  while (more && end > 0) {  // scan back over '#' and '\n' in blocks
    off_t from = std::max<off_t>(0, end - static_cast<off_t>(sizeof(buf)));
    ssize_t n = pread(fd, buf, static_cast<size_t>(end - from), from);
    if (n != end - from) {
      rc = -1;
      break;
    }
    off_t keep = end;
    while (keep > from && (buf[keep - from - 1] == '#' || buf[keep - from - 1] == '\n')) keep--;
    more = keep == from;
    end = keep;
  }
  char pair[2];  // "\r\n" ends the last command: its '\n' is not padding
  if (rc == 0 && end > 0 && end < st.st_size && pread(fd, pair, 2, end - 1) == 2 &&
      pair[0] == '\r' && pair[1] == '\n') {
    end++;
  }
  if (rc == 0 && end < st.st_size) {
    rc = ftruncate(fd, end) == 0 && fdatasync(fd) == 0 ? 0 : -1;
  }
  int saved = errno;
  close(fd);
  errno = saved;
  return rc;
}

bool AofEnv::Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

AofEnv* DefaultAofEnv() {
  static AofEnv env;
  return &env;
}

size_t WriteAll(AofWritableFile* file, const char* data, size_t n, int* err_no) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = file->Write(data + done, n - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      *err_no = errno;
      return done;
    }
    if (w == 0) {
      *err_no = ENOSPC;
      return done;
    }
    done += static_cast<size_t>(w);
  }
  return done;
}

std::string AofBaseName(const std::string& appendfilename, int64_t seq) {
  return appendfilename + "." + std::to_string(seq) + ".base.aof";
}

std::string AofIncrName(const std::string& appendfilename, int64_t seq) {
  return appendfilename + "." + std::to_string(seq) + ".incr.aof";
}

std::string AofManifestName(const std::string& appendfilename) {
  return appendfilename + ".manifest";
}

std::string AofTempManifestName(const std::string& appendfilename) {
  return "temp-" + appendfilename + ".manifest";
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

std::string AofManifest::Format() const {
  std::string out;
  auto line = [&out](const AofInfo& ai) {
    out += "file " + ai.file_name + " seq " + std::to_string(ai.file_seq) + " type ";
    out.push_back(static_cast<char>(ai.file_type));
    out.push_back('\n');
  };
  if (has_base) line(base);
  for (const AofInfo& ai : history) line(ai);
  for (const AofInfo& ai : incr) line(ai);
  return out;
}

std::string AofManifest::Parse(std::string_view text, AofManifest* out) {
  *out = AofManifest{};
  int64_t max_seq = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!raw.empty() && raw[0] == '#') continue;
    if (nl == std::string_view::npos) return "Invalid AOF manifest file format";
    std::string_view line = Trim(raw);
    if (line.empty()) return "Invalid AOF manifest file format";
    AofInfo ai;
    if (std::string err = ParseLine(line, &ai); !err.empty()) return err;
    switch (ai.file_type) {
      case AofFileType::kBase:
        if (out->has_base) return "Found duplicate base file information";
        out->has_base = true;
        out->base = ai;
        out->curr_base_seq = ai.file_seq;
        break;
      case AofFileType::kHistory:
        out->history.push_back(ai);
        break;
      case AofFileType::kIncr:
        if (ai.file_seq <= max_seq) return "Found a non-monotonic sequence number";
        max_seq = ai.file_seq;
        out->curr_incr_seq = ai.file_seq;
        out->incr.push_back(ai);
        break;
      default:
        return "Unknown AOF file type";
    }
  }
  if (!out->has_base && out->incr.empty()) return "Found an empty AOF manifest";
  return "";
}

std::string AofManifest::NewBase(const std::string& appendfilename) {
  if (has_base) {
    base.file_type = AofFileType::kHistory;
    history.push_back(base);
  }
  has_base = true;
  base = AofInfo{AofBaseName(appendfilename, ++curr_base_seq), curr_base_seq, AofFileType::kBase};
  return base.file_name;
}

std::string AofManifest::NewIncr(const std::string& appendfilename) {
  AofInfo ai{AofIncrName(appendfilename, ++curr_incr_seq), curr_incr_seq, AofFileType::kIncr};
  incr.push_back(ai);
  return ai.file_name;
}

void AofManifest::MarkRewrittenIncrAsHistory() {
  while (incr.size() > 1) {
    AofInfo ai = incr.front();
    incr.erase(incr.begin());
    ai.file_type = AofFileType::kHistory;
    history.push_back(ai);
  }
}

std::string PersistAofManifest(AofEnv* env, const std::string& dir,
                               const std::string& appendfilename, const AofManifest& manifest) {
  std::string tmp = JoinPath(dir, AofTempManifestName(appendfilename));
  std::string final_path = JoinPath(dir, AofManifestName(appendfilename));
  if (env->WriteFileSynced(tmp, manifest.Format()) != 0) {
    return "Can't write the AOF manifest file " + tmp + ": " + strerror(errno);
  }
  if (env->Rename(tmp, final_path) != 0) {
    return "Can't rename the AOF manifest file " + tmp + " to " + final_path + ": " +
           strerror(errno);
  }
  if (env->FsyncDir(dir) != 0) {
    return "Can't fsync the AOF directory " + dir + ": " + strerror(errno);
  }
  return "";
}

std::string LoadAofManifest(AofEnv* env, const std::string& dir, const std::string& appendfilename,
                            AofManifest* out, bool* found) {
  std::string text;
  std::string path = JoinPath(dir, AofManifestName(appendfilename));
  *found = false;
  if (env->ReadFile(path, &text) != 0) {
    if (errno == ENOENT) return "";
    return "Fail to open AOF manifest file " + path + ": " + strerror(errno);
  }
  *found = true;
  return AofManifest::Parse(text, out);
}

}  // namespace docket::storage
