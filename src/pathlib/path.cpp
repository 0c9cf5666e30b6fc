// Concrete paths: the system calls behind PosixPath, with Python 3.11's semantics and errors.
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <batteries/pathlib/path.hpp>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <map>

#include "codecs.hpp"
#include "dirent.hpp"

namespace batteries::pathlib::detail {

namespace {

StatResult from_stat(const struct stat& st) noexcept {
  StatResult out;
  out.st_mode = st.st_mode;
  out.st_ino = st.st_ino;
  out.st_dev = st.st_dev;
  out.st_nlink = st.st_nlink;
  out.st_uid = st.st_uid;
  out.st_gid = st.st_gid;
  out.st_size = st.st_size;
  const auto ns = [](const struct timespec& t) {
    return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
  };
  out.st_atime_ns = ns(st.st_atim);
  out.st_mtime_ns = ns(st.st_mtim);
  out.st_ctime_ns = ns(st.st_ctim);
  out.st_blksize = st.st_blksize;
  out.st_blocks = st.st_blocks;
  out.st_rdev = st.st_rdev;
  return out;
}

// Python's pathlib._ignore_error: the errors is_dir() and friends read as "no".
bool ignored_error(int err) noexcept {
  return err == ENOENT || err == ENOTDIR || err == EBADF || err == ELOOP;
}

// ---- posixpath, on strings ----

std::string path_join(const std::string& a, std::string_view b) {
  if (!b.empty() && b[0] == '/') return std::string(b);
  std::string out = a;
  if (!out.empty() && out.back() != '/') out.push_back('/');
  out.append(b);
  return out;
}

// posixpath.split: (head without its trailing slashes unless all slashes, tail).
std::pair<std::string, std::string> path_split(const std::string& path) {
  const std::size_t i = path.rfind('/') + 1;  // npos + 1 == 0
  std::string head = path.substr(0, i);
  std::string tail = path.substr(i);
  if (!head.empty() && head.find_first_not_of('/') != std::string::npos) {
    while (head.back() == '/') head.pop_back();
  }
  return {std::move(head), std::move(tail)};
}

std::string normpath(const std::string& path) {
  if (path.empty()) return ".";
  std::size_t slashes = 0;
  while (slashes < path.size() && path[slashes] == '/') ++slashes;
  const std::size_t initial = slashes == 2 ? 2 : slashes > 0 ? 1 : 0;
  std::vector<std::string_view> comps;
  std::string_view rest(path);
  while (!rest.empty()) {
    const std::size_t cut = rest.find('/');
    const std::string_view comp = rest.substr(0, cut);
    rest = cut == std::string_view::npos ? std::string_view() : rest.substr(cut + 1);
    if (comp.empty() || comp == ".") continue;
    if (comp != ".." || (initial == 0 && comps.empty()) ||
        (!comps.empty() && comps.back() == "..")) {
      comps.push_back(comp);
    } else if (!comps.empty()) {
      comps.pop_back();
    }
  }
  std::string out(initial, '/');
  for (std::size_t i = 0; i < comps.size(); ++i) {
    if (i > 0) out.push_back('/');
    out.append(comps[i]);
  }
  return out.empty() ? "." : out;
}

// posixpath._joinrealpath (3.11): resolves rest onto path; false with the path so far and
// the rest untouched when a symlink loop stops it (strict raises instead).
std::pair<std::string, bool> join_realpath(
    std::string path, std::string_view rest, bool strict,
    std::map<std::string, std::optional<std::string>>& seen) {
  if (!rest.empty() && rest[0] == '/') {
    rest.remove_prefix(1);
    path.assign(1, '/');
  }
  while (!rest.empty()) {
    const std::size_t cut = rest.find('/');
    const std::string_view name = rest.substr(0, cut);
    rest = cut == std::string_view::npos ? std::string_view() : rest.substr(cut + 1);
    if (name.empty() || name == ".") continue;
    if (name == "..") {
      if (!path.empty()) {
        auto [head, tail] = path_split(path);
        path = tail == ".." ? path_join(path_join(head, ".."), "..") : std::move(head);
      } else {
        path = "..";
      }
      continue;
    }
    std::string newpath = path_join(path, name);
    struct stat st {};
    bool is_link = false;
    if (::lstat(newpath.c_str(), &st) != 0) {
      if (strict) raise_errno(newpath);
    } else {
      is_link = S_ISLNK(st.st_mode);
    }
    if (!is_link) {
      path = std::move(newpath);
      continue;
    }
    const auto found = seen.find(newpath);
    if (found != seen.end()) {
      if (found->second) {
        path = *found->second;
        continue;
      }
      // Seen but not resolved yet: a loop.
      if (strict) {
        struct stat ignored {};
        if (::stat(newpath.c_str(), &ignored) != 0) raise_errno(newpath);
      }
      return {path_join(newpath, rest), false};
    }
    seen[newpath] = std::nullopt;
    auto [resolved, ok] = join_realpath(path, readlink(newpath), strict, seen);
    if (!ok) return {path_join(resolved, rest), false};
    path = resolved;
    seen[newpath] = std::move(resolved);
  }
  return {path, true};
}

[[noreturn]] void symlink_loop(const std::optional<std::string>& filename) {
  throw RuntimeError(
      std::string("Symlink loop from ").append(filename ? py_repr(*filename) : "None"));
}

int open_file(const std::string& path, int flags, unsigned mode = 0) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) raise_errno(path);
  return fd;
}

// Python's universal newlines on reading: "\r\n" and "\r" become "\n".
void translate_newlines(std::string& text) {
  std::size_t r = text.find('\r');
  if (r == std::string::npos) return;
  std::size_t w = r;
  while (r < text.size()) {
    const char c = text[r++];
    if (c == '\r') {
      text[w++] = '\n';
      if (r < text.size() && text[r] == '\n') ++r;
    } else {
      text[w++] = c;
    }
  }
  text.resize(w);
}

}  // namespace

StatResult stat(const std::string& path, bool follow_symlinks) {
  struct stat st {};
  const int rc = follow_symlinks ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st);
  if (rc != 0) raise_errno(path);
  return from_stat(st);
}

std::optional<StatResult> stat_if_exists(const std::string& path, bool follow_symlinks) {
  struct stat st {};
  const int rc = follow_symlinks ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st);
  if (rc == 0) return from_stat(st);
  if (ignored_error(errno)) return std::nullopt;
  raise_errno(path);
}

std::string getcwd() {
  std::string buffer(256, '\0');
  while (::getcwd(buffer.data(), buffer.size()) == nullptr) {
    if (errno != ERANGE) raise_errno();
    buffer.resize(buffer.size() * 2);
  }
  buffer.resize(std::char_traits<char>::length(buffer.c_str()));
  return buffer;
}

std::string expanduser(const RawPath& path) {
  const std::string_view rel = path.rel();
  if (path.drv != 0 || path.root != 0 || rel.empty() || rel[0] != '~') return path.str;
  const std::size_t cut = rel.find('/');
  const std::string_view first = rel.substr(0, cut);
  const std::string_view rest = cut == std::string_view::npos ? "" : rel.substr(cut);
  std::optional<std::string> home;
  std::vector<char> buffer(16384);
  struct passwd entry {};
  struct passwd* found = nullptr;
  if (first.size() == 1) {
    if (const char* env = std::getenv("HOME"); env != nullptr) {
      home = env;
    } else if (::getpwuid_r(::getuid(), &entry, buffer.data(), buffer.size(), &found) == 0 &&
               found != nullptr) {
      home = found->pw_dir;
    }
  } else {
    const std::string user(first.substr(1));
    if (::getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found) == 0 &&
        found != nullptr) {
      home = found->pw_dir;
    }
  }
  if (!home) home = std::string(first);  // not found: Python leaves the ~ as it is
  while (!home->empty() && home->back() == '/') home->pop_back();
  if (home->starts_with('~')) throw RuntimeError("Could not determine home directory.");
  std::string expanded = std::move(*home);
  expanded.append(rest);
  if (expanded.empty()) expanded.push_back('/');
  return expanded;
}

std::string realpath(const std::string& path, bool strict) {
  std::map<std::string, std::optional<std::string>> seen;
  std::string resolved;
  try {
    resolved = join_realpath("", path, strict, seen).first;
  } catch (const OSError& error) {
    if (error.errno_() == ELOOP) symlink_loop(error.filename());
    throw;
  }
  if (resolved.empty() || resolved[0] != '/') resolved = path_join(getcwd(), resolved);
  resolved = normpath(resolved);
  if (!strict) {
    // realpath() does not raise on a loop it stopped at; stat() finds it.
    struct stat st {};
    if (::stat(resolved.c_str(), &st) != 0 && errno == ELOOP) symlink_loop(resolved);
  }
  return resolved;
}

bool is_mount(const std::string& path, const std::string& parent) {
  const auto st = stat_if_exists(path, true);
  if (!st || (st->st_mode & S_IFMT) != S_IFDIR) return false;
  struct stat up {};
  if (::stat(parent.c_str(), &up) != 0) return false;
  if (st->st_dev != up.st_dev) return true;
  return st->st_ino == up.st_ino;
}

std::string owner(std::uint32_t uid) {
  std::vector<char> buffer(16384);
  struct passwd entry {};
  struct passwd* found = nullptr;
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    throw KeyError(std::string("getpwuid(): uid not found: ").append(std::to_string(uid)));
  }
  return found->pw_name;
}

std::string group(std::uint32_t gid) {
  std::vector<char> buffer(16384);
  struct group entry {};
  struct group* found = nullptr;
  if (::getgrgid_r(gid, &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    throw KeyError(std::string("getgrgid(): gid not found: ").append(std::to_string(gid)));
  }
  return found->gr_name;
}

void chmod(const std::string& path, unsigned mode, bool follow_symlinks) {
  const auto m = static_cast<mode_t>(mode);
  if (follow_symlinks) {
    if (::chmod(path.c_str(), m) != 0) raise_errno(path);
    return;
  }
  if (::fchmodat(AT_FDCWD, path.c_str(), m, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOTSUP || errno == EOPNOTSUPP) {
      throw NotImplementedError("chmod: follow_symlinks unavailable on this platform");
    }
    raise_errno(path);
  }
}

void mkdir(const std::string& path, unsigned mode) {
  if (::mkdir(path.c_str(), static_cast<mode_t>(mode)) != 0) raise_errno(path);
}

void rmdir(const std::string& path) {
  if (::rmdir(path.c_str()) != 0) raise_errno(path);
}

void touch(const std::string& path, unsigned mode, bool exist_ok) {
  if (exist_ok && ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0) == 0) return;
  const int fd = open_file(path, O_CREAT | O_WRONLY | (exist_ok ? 0 : O_EXCL), mode);
  ::close(fd);
}

void unlink(const std::string& path, bool missing_ok) {
  if (::unlink(path.c_str()) != 0 && !(missing_ok && errno == ENOENT)) raise_errno(path);
}

void rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) raise_errno(from, to);
}

void symlink(const std::string& target, const std::string& link) {
  if (::symlink(target.c_str(), link.c_str()) != 0) raise_errno(target, link);
}

void hardlink(const std::string& target, const std::string& link) {
  if (::link(target.c_str(), link.c_str()) != 0) raise_errno(target, link);
}

std::string readlink(const std::string& path) {
  std::string buffer(256, '\0');
  for (;;) {
    const ssize_t n = ::readlink(path.c_str(), buffer.data(), buffer.size());
    if (n < 0) raise_errno(path);
    if (static_cast<std::size_t>(n) < buffer.size()) {
      buffer.resize(static_cast<std::size_t>(n));
      return buffer;
    }
    buffer.resize(buffer.size() * 2);
  }
}

std::string read_bytes(const std::string& path) {
  const UniqueFd fd(open_file(path, O_RDONLY));
  struct stat st {};
  if (::fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode)) raise_os_error(EISDIR, path);
  std::string data;
  data.resize(st.st_size > 0 ? static_cast<std::size_t>(st.st_size) + 1 : 8192);
  std::size_t used = 0;
  for (;;) {
    if (used == data.size()) data.resize(data.size() * 2);
    const ssize_t n = ::read(fd.get(), data.data() + used, data.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      raise_errno();
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  data.resize(used);
  return data;
}

std::size_t write_bytes(const std::string& path, std::string_view data) {
  const UniqueFd fd(open_file(path, O_WRONLY | O_CREAT | O_TRUNC, 0666));
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      raise_errno();
    }
    done += static_cast<std::size_t>(n);
  }
  return data.size();
}

std::string read_text(const std::string& path, const TextOptions& options) {
  // Python looks the codec up when it opens the file, before reading.
  const std::string encoding = options.encoding.value_or("utf-8");
  const std::string errors = options.errors.value_or("strict");
  (void)encode("", encoding, errors);
  std::string text = decode(read_bytes(path), encoding, errors);
  translate_newlines(text);
  return text;
}

std::size_t write_text(const std::string& path, std::string_view data, const TextOptions& options) {
  const std::string newline = options.newline.value_or("");
  if (newline != "" && newline != "\n" && newline != "\r" && newline != "\r\n") {
    throw ValueError(std::string("illegal newline value: ").append(newline));
  }
  const std::size_t chars = char_count(data);
  std::string text;
  if (newline == "\r" || newline == "\r\n") {
    text.reserve(data.size());
    for (const char c : data) {
      if (c == '\n') {
        text.append(newline);
      } else {
        text.push_back(c);
      }
    }
    data = text;
  }
  // Encoded in full before the file is opened, so an encoding error leaves the file as it was.
  const std::string bytes =
      encode(data, options.encoding.value_or("utf-8"), options.errors.value_or("strict"));
  write_bytes(path, bytes);
  return chars;
}

namespace {

// iterdir(): the directory's entries as children of the path, read batch by batch.
class IterDirSource final : public Source<PosixPath> {
 public:
  explicit IterDirSource(const PosixPath& path) : m_base(path.raw()), m_text(path.str()) {
    if (const int err = m_reader.open(AT_FDCWD, m_text.c_str()); err != 0) {
      raise_os_error(err, m_text);
    }
    if (!m_base.rel().empty()) m_base.str.push_back('/');
    m_prefix = m_base.str.size();
  }

  bool next(PosixPath& out) override {
    DirEntry entry;
    if (!m_reader.next(entry)) {
      // A directory removed while it is read reads as ended (Linux says ENOENT).
      if (const int err = m_reader.error(); err != 0 && err != ENOENT) {
        raise_os_error(err, m_text);
      }
      m_reader.close();
      return false;
    }
    m_base.str.resize(m_prefix);
    m_base.str.append(entry.name);
    out = PosixPath::from_raw(m_base);
    return true;
  }

 private:
  DirReader m_reader;
  RawPath m_base;  // the directory's text with a '/' to append names to
  std::string m_text;
  std::size_t m_prefix = 0;
};

}  // namespace

std::unique_ptr<Source<PosixPath>> iterdir(const PosixPath& path) {
  return std::make_unique<IterDirSource>(path);
}

}  // namespace batteries::pathlib::detail
