// Tests for storage/aof_file and storage/aof_reader: manifest syntax as Redis 7.0 writes and
// rejects it, the atomic manifest replace through a fault-injecting environment (short writes,
// failed fsync, a crash between rename steps), and the reader's truncated-tail detection.
#include "storage/aof_file.h"

#include <doctest/doctest.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "storage/aof_reader.h"

namespace docket::storage {
namespace {

// Writes at most max_write bytes per call and fails fsync / rename on request.
class FaultyFile : public AofWritableFile {
 public:
  FaultyFile(std::unique_ptr<AofWritableFile> inner, const struct FaultyEnv* env)
      : inner_(std::move(inner)), env_(env) {}
  ssize_t Write(const char* data, size_t n) override;
  int Fsync() override;
  int Truncate(off_t size) override { return inner_->Truncate(size); }

 private:
  std::unique_ptr<AofWritableFile> inner_;
  const struct FaultyEnv* env_;
};

struct FaultyEnv : AofEnv {
  size_t max_write = SIZE_MAX;
  bool fail_write = false;
  bool fail_fsync = false;
  bool fail_rename = false;
  std::unique_ptr<AofWritableFile> OpenAppend(const std::string& path) override {
    auto inner = AofEnv::OpenAppend(path);
    if (inner == nullptr) return nullptr;
    return std::make_unique<FaultyFile>(std::move(inner), this);
  }
  int WriteFileSynced(const std::string& path, std::string_view contents) override {
    if (fail_fsync) {
      errno = EIO;
      return -1;
    }
    return AofEnv::WriteFileSynced(path, contents);
  }
  int Rename(const std::string& from, const std::string& to) override {
    if (fail_rename) {
      errno = EIO;
      return -1;
    }
    return AofEnv::Rename(from, to);
  }
};

ssize_t FaultyFile::Write(const char* data, size_t n) {
  if (env_->fail_write) {
    errno = ENOSPC;
    return -1;
  }
  return inner_->Write(data, std::min(n, env_->max_write));
}

int FaultyFile::Fsync() {
  if (env_->fail_fsync) {
    errno = EIO;
    return -1;
  }
  return inner_->Fsync();
}

std::string TempDir() {
  char tmpl[] = "/tmp/docket-aof-test-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  return tmpl;
}

std::string Slurp(const std::string& path) {
  std::string out;
  DefaultAofEnv()->ReadFile(path, &out);
  return out;
}

}  // namespace

TEST_CASE("aof manifest: format and parse as Redis 7.0") {
  AofManifest m;
  CHECK(m.NewBase("appendonly.aof") == "appendonly.aof.1.base.aof");
  CHECK(m.NewIncr("appendonly.aof") == "appendonly.aof.1.incr.aof");
  CHECK(m.Format() ==
        "file appendonly.aof.1.base.aof seq 1 type b\n"
        "file appendonly.aof.1.incr.aof seq 1 type i\n");
  m.NewIncr("appendonly.aof");
  m.NewBase("appendonly.aof");
  m.MarkRewrittenIncrAsHistory();
  CHECK(m.Format() ==
        "file appendonly.aof.2.base.aof seq 2 type b\n"
        "file appendonly.aof.1.base.aof seq 1 type h\n"
        "file appendonly.aof.1.incr.aof seq 1 type h\n"
        "file appendonly.aof.2.incr.aof seq 2 type i\n");
  AofManifest parsed;
  REQUIRE(AofManifest::Parse(m.Format(), &parsed) == "");
  CHECK(parsed.Format() == m.Format());
  CHECK(parsed.curr_base_seq == 2);
  CHECK(parsed.curr_incr_seq == 2);
  CHECK(AofManifest::Parse("# comment\nfile a.1.incr.aof seq 1 type i extra x\n", &parsed) == "");
  CHECK(parsed.incr.size() == 1);
}

TEST_CASE("aof manifest: Redis's errors") {
  AofManifest m;
  CHECK(AofManifest::Parse("", &m) == "Found an empty AOF manifest");
  CHECK(AofManifest::Parse("file a seq 1\n", &m) == "Invalid AOF manifest file format");
  CHECK(AofManifest::Parse("\n", &m) == "Invalid AOF manifest file format");
  CHECK(AofManifest::Parse("file a seq 1 type b\nfile b seq 2 type b\n", &m) ==
        "Found duplicate base file information");
  CHECK(AofManifest::Parse("file a seq 2 type i\nfile b seq 1 type i\n", &m) ==
        "Found a non-monotonic sequence number");
  CHECK(AofManifest::Parse("file a seq 1 type x\n", &m) == "Unknown AOF file type");
  CHECK(AofManifest::Parse("file a seq 1 type b", &m) == "Invalid AOF manifest file format");
}

TEST_CASE("aof manifest: atomic replace survives failures") {
  std::string dir = TempDir();
  FaultyEnv env;
  AofManifest one;
  one.NewBase("appendonly.aof");
  one.NewIncr("appendonly.aof");
  REQUIRE(PersistAofManifest(&env, dir, "appendonly.aof", one) == "");
  AofManifest two = one;
  two.NewIncr("appendonly.aof");
  // A failed fsync or a crash before the rename leaves the old manifest whole.
  env.fail_fsync = true;
  CHECK(PersistAofManifest(&env, dir, "appendonly.aof", two) != "");
  env.fail_fsync = false;
  env.fail_rename = true;
  CHECK(PersistAofManifest(&env, dir, "appendonly.aof", two).find("rename") != std::string::npos);
  AofManifest loaded;
  bool found = false;
  REQUIRE(LoadAofManifest(&env, dir, "appendonly.aof", &loaded, &found) == "");
  CHECK(found);
  CHECK(loaded.Format() == one.Format());
  env.fail_rename = false;
  REQUIRE(PersistAofManifest(&env, dir, "appendonly.aof", two) == "");
  REQUIRE(LoadAofManifest(&env, dir, "appendonly.aof", &loaded, &found) == "");
  CHECK(loaded.Format() == two.Format());
  CHECK(!env.Exists(JoinPath(dir, AofTempManifestName("appendonly.aof"))));
  AofManifest none;
  REQUIRE(LoadAofManifest(&env, dir + "/missing", "appendonly.aof", &none, &found) == "");
  CHECK(!found);
}

TEST_CASE("aof file: short writes are retried, failures reported") {
  std::string dir = TempDir();
  FaultyEnv env;
  env.max_write = 3;
  std::string path = JoinPath(dir, "x.aof");
  auto file = env.OpenAppend(path);
  REQUIRE(file != nullptr);
  int err_no = 0;
  std::string data = "*1\r\n$4\r\nPING\r\n";
  CHECK(WriteAll(file.get(), data.data(), data.size(), &err_no) == data.size());
  CHECK(Slurp(path) == data);
  env.fail_write = true;
  CHECK(WriteAll(file.get(), data.data(), data.size(), &err_no) == 0);
  CHECK(err_no == ENOSPC);
  env.fail_write = false;
  env.fail_fsync = true;
  CHECK(file->Fsync() == -1);
  env.fail_fsync = false;
  CHECK(file->Fsync() == 0);
}

TEST_CASE("aof reader: commands, annotations, truncated tail, corruption") {
  std::string data =
      "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n#TS:1\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n";
  std::vector<std::string_view> argv;
  AofReader r(data);
  REQUIRE(r.Next(&argv) == AofReadStatus::kCommand);
  CHECK(argv == std::vector<std::string_view>{"SELECT", "0"});
  REQUIRE(r.Next(&argv) == AofReadStatus::kCommand);
  CHECK(argv == std::vector<std::string_view>{"SET", "k", ""});
  CHECK(r.Next(&argv) == AofReadStatus::kEnd);
  CHECK(r.valid_end() == data.size());
  // Every cut inside the last command is a truncated tail ending at the first command.
  size_t first_end = std::string_view(data).find("#TS");
  for (size_t cut = first_end + 8; cut < data.size(); cut++) {
    AofReader t(std::string_view(data).substr(0, cut));
    REQUIRE(t.Next(&argv) == AofReadStatus::kCommand);
    CHECK(t.Next(&argv) == AofReadStatus::kTruncated);
    CHECK(t.valid_end() == first_end + 7);
  }
  AofReader bad1("*1\r\n$4\r\nPINGxx\r\n");
  CHECK(bad1.Next(&argv) == AofReadStatus::kCorrupt);
  CHECK(bad1.error_offset() == 12);
  AofReader bad2("+OK\r\n");
  CHECK(bad2.Next(&argv) == AofReadStatus::kCorrupt);
  AofReader bad3("*x\r\n");
  CHECK(bad3.Next(&argv) == AofReadStatus::kCorrupt);
}

TEST_CASE("aof file: padding is overwritten in place, read as annotations, and trimmed") {
  std::string dir = TempDir();
  std::string path = JoinPath(dir, "p.aof");
  AofEnv* env = DefaultAofEnv();
  std::string one = "*1\r\n$4\r\nPING\r\n";  // 14 bytes: ends at an even offset
  {
    auto file = env->OpenAppend(path);
    REQUIRE(file != nullptr);
    int err_no = 0;
    REQUIRE(WriteAll(file.get(), one.data(), one.size(), &err_no) == one.size());
    CHECK(file->WritePadding(one.size() + 1, 9) == 0);  // odd start: the phase follows offsets
    CHECK(Slurp(path).substr(one.size()) == std::string("\0\n#\n#\n#\n#\n", 10));
    CHECK(file->WritePadding(one.size(), 100) == 0);
    std::string text = Slurp(path);
    CHECK(text.size() == one.size() + 100);
    CHECK(text.substr(one.size(), 4) == "#\n#\n");
    // The next write lands where the data ended, not after the padding.
    REQUIRE(WriteAll(file.get(), one.data(), one.size(), &err_no) == one.size());
    text = Slurp(path);
    CHECK(text.size() == one.size() + 100);
    CHECK(text.substr(one.size(), one.size()) == one);
    AofReader reader(text);
    std::vector<std::string_view> argv;
    int commands = 0;
    while (reader.Next(&argv) == AofReadStatus::kCommand) commands++;
    CHECK(commands == 2);
    CHECK(reader.Next(&argv) == AofReadStatus::kEnd);
  }
  // A crash leaves the padding: TrimPadding keeps the last command's "\r\n".
  CHECK(env->TrimPadding(path) == 0);
  CHECK(Slurp(path) == one + one);
  CHECK(env->TrimPadding(path) == 0);  // nothing more to cut
  CHECK(Slurp(path) == one + one);
  // Files with no padding, only padding, or missing.
  std::string plain = JoinPath(dir, "plain.aof");
  REQUIRE(env->WriteFileSynced(plain, one + "#TS:1\r\n") == 0);
  CHECK(env->TrimPadding(plain) == 0);
  CHECK(Slurp(plain) == one + "#TS:1\r\n");
  std::string pad_only = JoinPath(dir, "pad.aof");
  REQUIRE(env->WriteFileSynced(pad_only, std::string(200000, '#') + "\n") == 0);
  CHECK(env->TrimPadding(pad_only) == 0);
  CHECK(Slurp(pad_only).empty());
  CHECK(env->TrimPadding(JoinPath(dir, "missing.aof")) == 0);
  // Truncate moves the write position back with the end of the file.
  auto file = env->OpenAppend(path);
  REQUIRE(file != nullptr);
  CHECK(file->Truncate(one.size()) == 0);
  int err_no = 0;
  REQUIRE(WriteAll(file.get(), one.data(), one.size(), &err_no) == one.size());
  CHECK(Slurp(path) == one + one);
}

}  // namespace docket::storage
