// The append-only file's file layer in Redis 7.0's multi-part layout: file names, the manifest
// (parse, format, atomic replace), and a replaceable file interface (AofEnv) through which every
// byte goes, so that tests can inject short writes and failed fsyncs. Depends on std only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace docket::storage {

// Padding: with appendfsync always the live incr file is extended ahead of the data with lines
// "#\n" (the byte at an even offset is '#', at an odd one '\n'), fsynced with the data, so that
// the next writes overwrite allocated blocks and fdatasync need not commit a size change. Readers
// (Redis's loader, redis-check-aof, ours) skip '#' lines as annotations; the padding is cut off
// when the file is closed, and at start-up after a crash.
inline char AofPaddingByteAt(int64_t offset) { return offset % 2 == 0 ? '#' : '\n'; }

// A file opened for writing at its end. Calls behave like write(2) / fsync(2): -1 and errno on
// failure.
class AofWritableFile {
 public:
  virtual ~AofWritableFile() = default;
  // Writes up to n bytes at the write position; returns how many were written (may be fewer: a
  // short write) or -1.
  virtual ssize_t Write(const char* data, size_t n) = 0;
  virtual int Fsync() = 0;
  // Cuts the file back to size bytes and moves the write position there (after a short write,
  // as Redis's flushAppendOnlyFile, and to drop the padding).
  virtual int Truncate(off_t size) = 0;
  // Writes n bytes of padding at offset at, leaving the write position alone. Files that cannot
  // (test doubles) do nothing.
  virtual int WritePadding(off_t at, size_t n) { return 0; }
  virtual int fd() const { return -1; }
};

// Every file-system operation the AOF performs. The default (PosixAofEnv) uses the OS; tests
// subclass it to fail on purpose. Functions return 0 or -1 with errno set.
class AofEnv {
 public:
  virtual ~AofEnv() = default;
  // Opens path for appending, creating it when missing. nullptr (errno set) on failure.
  virtual std::unique_ptr<AofWritableFile> OpenAppend(const std::string& path);
  // Writes contents to path, replacing it, and fsyncs it.
  virtual int WriteFileSynced(const std::string& path, std::string_view contents);
  virtual int Rename(const std::string& from, const std::string& to);
  virtual int FsyncDir(const std::string& dir);
  virtual int Remove(const std::string& path);
  virtual int MakeDir(const std::string& path);
  // Reads the whole file. -1 (errno ENOENT when missing) on failure.
  virtual int ReadFile(const std::string& path, std::string* out);
  // Size of path in bytes, -1 when it cannot be read.
  virtual int64_t FileSize(const std::string& path);
  // Cuts the padding (a run of '#' and '\n' bytes) off the end of path, if any, and fsyncs it.
  virtual int TrimPadding(const std::string& path);
  virtual bool Exists(const std::string& path);
};

// The process-wide default environment.
AofEnv* DefaultAofEnv();

enum class AofFileType : char { kBase = 'b', kHistory = 'h', kIncr = 'i' };

struct AofInfo {
  std::string file_name;
  int64_t file_seq = 0;
  AofFileType file_type = AofFileType::kIncr;
};

// Redis 7.0's aofManifest: at most one base, the history files to delete, the incr files in order.
struct AofManifest {
  bool has_base = false;
  AofInfo base;
  std::vector<AofInfo> incr;
  std::vector<AofInfo> history;
  int64_t curr_base_seq = 0;
  int64_t curr_incr_seq = 0;

  // "file <name> seq <n> type <b|h|i>\n" per file: base, history, then incr, as Redis writes it.
  std::string Format() const;
  // Parses a manifest's text. Returns "" or Redis's error text for the first bad line.
  static std::string Parse(std::string_view text, AofManifest* out);

  // Adds a new base named after appendfilename (the old base becomes history); returns its name.
  std::string NewBase(const std::string& appendfilename);
  // Adds a new incr file at the end of the list; returns its name.
  std::string NewIncr(const std::string& appendfilename);
  // After a rewrite: every incr file but the last becomes history (Redis's
  // markRewrittenIncrAofAsHistory).
  void MarkRewrittenIncrAsHistory();
};

// Redis's names: "<appendfilename>.<seq>.base.aof", "<appendfilename>.<seq>.incr.aof",
// "<appendfilename>.manifest", and the temporary manifest "temp-<appendfilename>.manifest".
std::string AofBaseName(const std::string& appendfilename, int64_t seq);
std::string AofIncrName(const std::string& appendfilename, int64_t seq);
std::string AofManifestName(const std::string& appendfilename);
std::string AofTempManifestName(const std::string& appendfilename);
std::string JoinPath(const std::string& dir, const std::string& name);

// Replaces dir/<manifest> atomically: writes the temp manifest, fsyncs it, renames it over the
// manifest and fsyncs the directory. Returns "" or what failed (with strerror).
std::string PersistAofManifest(AofEnv* env, const std::string& dir,
                               const std::string& appendfilename, const AofManifest& manifest);

// Reads dir/<manifest>. Returns "" with *found = false when there is none.
std::string LoadAofManifest(AofEnv* env, const std::string& dir, const std::string& appendfilename,
                            AofManifest* out, bool* found);

// Writes all of data to file, retrying short writes. Returns bytes written (== n on success);
// on failure *err_no holds errno (ENOSPC when a write made no progress).
size_t WriteAll(AofWritableFile* file, const char* data, size_t n, int* err_no);

}  // namespace docket::storage
