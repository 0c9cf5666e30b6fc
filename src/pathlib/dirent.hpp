// Reading a directory's entries in big batches (getdents64 on Linux, readdir elsewhere), with
// their d_type, for iterdir, glob and walk.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <batteries/pathlib/pure.hpp>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

#include "fd.hpp"

namespace batteries::pathlib::detail {

/// One entry: its name (NUL-terminated, from d_name) and its type as the directory records it
/// (DT_DIR, DT_LNK, ..., DT_UNKNOWN when the file system does not say).
struct DirEntry {
  std::string_view name;
  unsigned char type = DT_UNKNOWN;
};

/// An open directory, read entry by entry; "." and ".." are skipped. Not thread-safe.
class DirReader {
 public:
  DirReader() = default;
  DirReader(const DirReader&) = delete;
  DirReader& operator=(const DirReader&) = delete;
  ~DirReader() { close(); }

  /// Opens path (relative to dirfd, or AT_FDCWD); returns 0 or the errno.
  int open(int dirfd, const char* path) noexcept {
    close();
    m_fd = ::openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (m_fd < 0) return errno;
    m_pos = m_len = 0;
    m_error = 0;
#ifndef __linux__
    m_dir = ::fdopendir(m_fd);
    if (m_dir == nullptr) {
      const int err = errno;
      ::close(m_fd);
      m_fd = -1;
      return err;
    }
#endif
    return 0;
  }

  /// The next entry, or false at the end or on an error (then error() is its errno). The
  /// name stays valid until the next call.
  bool next(DirEntry& entry) noexcept {
#ifdef __linux__
    for (;;) {
      if (m_pos >= m_len) {
        if (!m_buffer) m_buffer = std::make_unique<char[]>(kBufferSize);
        const ssize_t n = ::getdents64(m_fd, m_buffer.get(), kBufferSize);
        if (n <= 0) {
          if (n < 0) m_error = errno;
          return false;
        }
        m_len = static_cast<std::size_t>(n);
        m_pos = 0;
      }
      const auto* d = reinterpret_cast<const struct dirent64*>(m_buffer.get() + m_pos);
      m_pos += d->d_reclen;
      const char* name = d->d_name;
      if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
      entry.name = std::string_view(name);
      entry.type = d->d_type;
      return true;
    }
#else
    for (;;) {
      errno = 0;
      const struct dirent* d = ::readdir(m_dir);
      if (d == nullptr) {
        m_error = errno;
        return false;
      }
      const char* name = d->d_name;
      if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
      entry.name = std::string_view(name);
      entry.type = d->d_type;
      return true;
    }
#endif
  }

  [[nodiscard]] int fd() const noexcept { return m_fd; }

  /// Hands the open descriptor to the caller (to open children relative to it), or -1 where
  /// the reader cannot part with it; the reader is closed either way.
  int release() noexcept {
#ifdef __linux__
    const int fd = m_fd;
    m_fd = -1;
    return fd;
#else
    close();
    return -1;
#endif
  }
  [[nodiscard]] int error() const noexcept { return m_error; }

  void close() noexcept {
#ifndef __linux__
    if (m_dir != nullptr) {
      ::closedir(m_dir);
      m_dir = nullptr;
      m_fd = -1;
    }
#endif
    if (m_fd >= 0) ::close(m_fd);
    m_fd = -1;
  }

 private:
  static constexpr std::size_t kBufferSize = 32 * 1024;
  int m_fd = -1;
  int m_error = 0;
#ifdef __linux__
  std::unique_ptr<char[]> m_buffer;
  std::size_t m_pos = 0;
  std::size_t m_len = 0;
#else
  DIR* m_dir = nullptr;
#endif
};

/// Whether an entry is a directory: from d_type when it says, else by stat (following
/// symlinks when follow is set, as os.DirEntry.is_dir does). Errors read as false.
inline bool entry_is_dir(int dirfd, const DirEntry& entry, bool follow) noexcept {
  if (entry.type == DT_DIR) return true;
  if (entry.type != DT_UNKNOWN && !(follow && entry.type == DT_LNK)) return false;
  struct stat st {};
  if (::fstatat(dirfd, entry.name.data(), &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0) return false;
  return S_ISDIR(st.st_mode);
}

/// Whether an entry is a symlink (lstat when d_type does not say).
inline bool entry_is_symlink(int dirfd, const DirEntry& entry) noexcept {
  if (entry.type != DT_UNKNOWN) return entry.type == DT_LNK;
  struct stat st {};
  if (::fstatat(dirfd, entry.name.data(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
  return S_ISLNK(st.st_mode);
}

/// A directory still to read: its path, and its parent's descriptor when one is open.
struct DirRef {
  RawPath path;
  std::shared_ptr<UniqueFd> parent;  // kept open for openat() by its children
  std::size_t name_pos = 0;          // where the last part starts in path.str
};

/// dir/name as a parsed path; name_pos gets where name starts in its text.
inline RawPath child_of(const RawPath& dir, std::string_view name,
                        std::size_t* name_pos = nullptr) {
  RawPath out;
  out.drv = dir.drv;
  out.root = dir.root;
  const bool sep = !dir.rel().empty();
  out.str.reserve(dir.str.size() + name.size() + 1);
  out.str.append(dir.str);
  if (sep) out.str.push_back('/');
  if (name_pos != nullptr) *name_pos = out.str.size();
  out.str.append(name);
  return out;
}

/// Opens dir relative to its parent's descriptor when it has one; 0 or the errno.
inline int open_dir(DirReader& reader, const DirRef& dir) {
  if (dir.parent) return reader.open(dir.parent->get(), dir.path.str.c_str() + dir.name_pos);
  return reader.open(AT_FDCWD, dir.path.str.empty() ? "." : dir.path.str.c_str());
}

}  // namespace batteries::pathlib::detail
