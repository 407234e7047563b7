// Atomic file output (see aulens/atomic_file.h): write a temporary beside the target, fsync it,
// rename it over the target, then fsync the directory so the rename itself is durable.
#include "aulens/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <system_error>

#include "aulens/check.h"

namespace aulens {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& step, int err) {
  throw Error("cannot write '" + path.string() + "': " + step + " failed: " + std::strerror(err));
}

// Writes all of `bytes` to `fd`, retrying partial writes and EINTR. Returns 0 or an errno.
int write_all(int fd, std::string_view bytes) {
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return 0;
}

// Best effort: makes the rename durable. Some filesystems refuse fsync on directories; the file
// itself is already on disk at that point, so a failure here is not an error.
void sync_directory(const std::filesystem::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  write_file_atomically(path, std::span<const std::string_view>(&bytes, 1));
}

void write_file_atomically(const std::filesystem::path& path,
                           std::span<const std::string_view> pieces) {
  AULENS_CHECK(!path.empty() && path.has_filename(),
               "write_file_atomically: '" + path.string() + "' does not name a file");
  const std::filesystem::path parent = path.parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      throw Error("cannot write '" + path.string() + "': creating directory '" + parent.string() +
                  "' failed: " + ec.message());
    }
  }

  std::filesystem::path temp = path;
  temp += ".tmp-" + std::to_string(::getpid());
  // A fresh file, never one a killed run left: that could be a second name of another file (a
  // hard link, link_file_atomically), which truncating would overwrite.
  ::unlink(temp.c_str());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, "creating the temporary '" + temp.string() + "'", errno);

  int err = 0;
  std::string step;
  for (std::string_view piece : pieces) {
    err = write_all(fd, piece);
    if (err != 0) {
      step = "writing";
      break;
    }
  }
  if (err == 0 && ::fsync(fd) != 0) {
    err = errno;
    step = "fsync";
  }
  if (::close(fd) != 0 && err == 0) {
    err = errno;
    step = "close";
  }
  if (err == 0 && std::rename(temp.c_str(), path.c_str()) != 0) {
    err = errno;
    step = "renaming '" + temp.string() + "' over it";
  }
  if (err != 0) {
    ::unlink(temp.c_str());
    fail(path, step, err);
  }
  sync_directory(parent);
}

bool link_file_atomically(const std::filesystem::path& existing,
                          const std::filesystem::path& path) {
  AULENS_CHECK(
      path.has_filename() && existing.parent_path() == path.parent_path(),
      "link_file_atomically: '" + path.string() + "' is not beside '" + existing.string() + "'");
  std::filesystem::path temp = path;
  temp += ".tmp-link-" + std::to_string(::getpid());
  ::unlink(temp.c_str());  // a temporary a killed run of this pid left
  if (::link(existing.c_str(), temp.c_str()) != 0) return false;
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    fail(path, "renaming the link '" + temp.string() + "' over it", err);
  }
  // rename() leaves both names when they already were one file (`path` was a link to `existing`).
  ::unlink(temp.c_str());
  sync_directory(path.parent_path());
  return true;
}

}  // namespace aulens
