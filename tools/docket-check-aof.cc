// docket-check-aof: checks an append-only file or a Redis 7 multi-part manifest like
// redis-check-aof — every file is validated and the first bad command is reported with its file
// and byte offset; --fix truncates the last file there (without asking). Exit 0 when valid (or
// fixed), 1 otherwise. Uses storage/aof_file and storage/aof_reader only.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "storage/aof_file.h"
#include "storage/aof_reader.h"

namespace {

using docket::storage::AofReader;
using docket::storage::AofReadStatus;

struct FileCheck {
  bool ok = true;
  size_t ok_up_to = 0;  // where a fix truncates
  std::string reason;
};

// Reads the commands of data; a MULTI left open at the end counts as bad from the MULTI on.
FileCheck CheckData(std::string_view data) {
  FileCheck check;
  AofReader reader(data);
  std::vector<std::string_view> argv;
  bool in_multi = false;
  size_t multi_at = 0;
  for (;;) {
    size_t before = reader.valid_end();
    AofReadStatus status = reader.Next(&argv);
    if (status == AofReadStatus::kCommand) {
      std::string name(argv[0]);
      for (char& ch : name) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
      if (name == "multi") {
        if (in_multi) {
          check = {false, before, "Unexpected MULTI"};
          return check;
        }
        in_multi = true;
        multi_at = before;
      } else if (name == "exec") {
        if (!in_multi) {
          check = {false, before, "Unexpected EXEC"};
          return check;
        }
        in_multi = false;
      }
      continue;
    }
    if (status == AofReadStatus::kEnd) {
      check.ok_up_to = reader.valid_end();
      if (in_multi) check = {false, multi_at, "Reached EOF before reading EXEC for MULTI"};
      return check;
    }
    check.ok = false;
    check.ok_up_to = in_multi ? multi_at : reader.valid_end();
    check.reason = status == AofReadStatus::kTruncated
                       ? "Truncated command at offset " + std::to_string(reader.error_offset())
                       : "Bad command format at offset " + std::to_string(reader.error_offset());
    return check;
  }
}

int Usage(const char* argv0) {
  fprintf(stderr, "Usage: %s [--fix] <file.manifest|file.aof>\n", argv0);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  bool fix = false;
  std::string path;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "--fix") {
      fix = true;
    } else if (path.empty()) {
      path = arg;
    } else {
      return Usage(argv[0]);
    }
  }
  if (path.empty()) return Usage(argv[0]);
  auto* env = docket::storage::DefaultAofEnv();
  std::string text;
  if (env->ReadFile(path, &text) != 0) {
    printf("Cannot open file: %s\n", path.c_str());
    return 1;
  }
  // The files to check, in loading order (base first), relative to the manifest's directory.
  std::vector<std::string> files;
  const std::string kSuffix = ".manifest";
  if (path.size() > kSuffix.size() &&
      path.compare(path.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0) {
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    docket::storage::AofManifest manifest;
    std::string err = docket::storage::AofManifest::Parse(text, &manifest);
    if (!err.empty()) {
      printf("Invalid AOF manifest file format: %s\n", err.c_str());
      return 1;
    }
    printf("Start checking Multi Part AOF\n");
    if (manifest.has_base) files.push_back(docket::storage::JoinPath(dir, manifest.base.file_name));
    for (const auto& info : manifest.incr) {
      files.push_back(docket::storage::JoinPath(dir, info.file_name));
    }
  } else {
    files.push_back(path);
  }
  for (size_t i = 0; i < files.size(); i++) {
    const std::string& file = files[i];
    std::string data;
    if (env->ReadFile(file, &data) != 0) {
      printf("Cannot open file: %s\n", file.c_str());
      return 1;
    }
    FileCheck check = CheckData(data);
    printf("AOF analyzed: filename=%s, size=%zu, ok_up_to=%zu, diff=%zu\n", file.c_str(),
           data.size(), check.ok_up_to, data.size() - check.ok_up_to);
    if (check.ok) {
      printf("AOF %s is valid\n", file.c_str());
      continue;
    }
    printf("%s in %s\n", check.reason.c_str(), file.c_str());
    bool last = i + 1 == files.size();
    if (!fix) {
      printf("AOF %s is not valid. Use the --fix option to try fixing it.\n", file.c_str());
      return 1;
    }
    if (!last) {
      printf("AOF %s is not the last file: it cannot be fixed by truncation.\n", file.c_str());
      return 1;
    }
    if (truncate(file.c_str(), static_cast<off_t>(check.ok_up_to)) != 0) {
      printf("Failed to truncate AOF %s\n", file.c_str());
      return 1;
    }
    printf("Successfully truncated AOF %s to %zu bytes\n", file.c_str(), check.ok_up_to);
  }
  return 0;
}
