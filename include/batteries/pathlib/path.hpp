// batteries::pathlib concrete paths: Python 3.11's Path/PosixPath, which touch the file system
// (stat, directories, globbing, reading and writing files), plus 3.12's walk().
//
// Thread-safety: a path is an immutable value and its methods may run from many threads at
// once; the file system itself is shared, so what they see is whatever it holds at the time.
// A range from iterdir(), glob(), rglob() or walk() belongs to one thread at a time.
#pragma once

#include <sys/types.h>

#include <batteries/errors.hpp>
#include <batteries/pathlib/file.hpp>
#include <batteries/pathlib/pure.hpp>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace batteries::pathlib {

/// Python's os.stat_result. The integer fields carry Python's names. The float times are
/// methods (atime(), mtime(), ctime()) because the C library defines st_atime and its
/// siblings as macros; the exact times are st_atime_ns and the others.
struct StatResult {
  std::uint32_t st_mode = 0;
  std::uint64_t st_ino = 0;
  std::uint64_t st_dev = 0;
  std::uint64_t st_nlink = 0;
  std::uint32_t st_uid = 0;
  std::uint32_t st_gid = 0;
  std::int64_t st_size = 0;
  std::int64_t st_atime_ns = 0;
  std::int64_t st_mtime_ns = 0;
  std::int64_t st_ctime_ns = 0;
  std::int64_t st_blksize = 0;
  std::int64_t st_blocks = 0;
  std::uint64_t st_rdev = 0;

  /// st_atime, st_mtime, st_ctime: seconds as a double, as Python gives them.
  [[nodiscard]] double atime() const noexcept { return static_cast<double>(st_atime_ns) / 1e9; }
  [[nodiscard]] double mtime() const noexcept { return static_cast<double>(st_mtime_ns) / 1e9; }
  [[nodiscard]] double ctime() const noexcept { return static_cast<double>(st_ctime_ns) / 1e9; }
};

/// stat(*, follow_symlinks=True) and chmod(mode, *, follow_symlinks=True).
struct FollowOptions {
  bool follow_symlinks = true;
};

/// mkdir(mode, parents=False, exist_ok=False).
struct MkdirOptions {
  bool parents = false;
  bool exist_ok = false;
};

/// read_text(encoding=None, errors=None) and write_text(data, encoding, errors, newline).
/// Encodings: UTF-8 (the default), ASCII and Latin-1 built in, with Python's error handlers
/// (strict, ignore, replace, backslashreplace, surrogateescape, and xmlcharrefreplace when
/// encoding); any other name goes through iconv. Text in batteries is UTF-8, and a byte that
/// is not UTF-8 stands for the lone surrogate Python's surrogateescape would give it.
struct TextOptions {
  std::optional<std::string> encoding = std::nullopt;
  std::optional<std::string> errors = std::nullopt;
  /// write_text only: None or "" writes '\n' as it is; "\n", "\r" or "\r\n" replace it.
  std::optional<std::string> newline = std::nullopt;
};

class PosixPath;
struct WalkEntry;

/// Python 3.12's walk(top_down=True, on_error=None, follow_symlinks=False).
struct WalkOptions {
  bool top_down = true;
  /// Called with each OSError that stops a directory from being listed (the walk goes on
  /// without it). The handler runs inside a catch block: `throw;` ends the walk with it.
  std::function<void(const OSError&)> on_error = nullptr;
  /// Descend into symlinks to directories. A link back to a directory the walk is already
  /// inside is not entered again; on_error gets an ELOOP OSError for it instead.
  bool follow_symlinks = false;
};

namespace detail {

/// The producer behind a lazy range: next() fills out and says whether there was one.
template <class T>
class Source {
 public:
  virtual ~Source() = default;
  virtual bool next(T& out) = 0;
};

}  // namespace detail

/// A lazy, single-pass range (Python's generator): iterdir(), glob(), rglob(), walk().
/// Items are made as the loop asks for them; begin() may be called once.
template <class T>
class LazyRange : public std::ranges::view_base {
 public:
  class iterator {
   public:
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using reference = T&;
    iterator() = default;
    explicit iterator(LazyRange* owner) : m_owner(owner) { ++*this; }
    T& operator*() const { return m_owner->m_current; }
    T* operator->() const { return &m_owner->m_current; }
    iterator& operator++() {
      if (!m_owner->m_source->next(m_owner->m_current)) m_owner = nullptr;
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) {
      return it.m_owner == nullptr;
    }

   private:
    LazyRange* m_owner = nullptr;
  };

  LazyRange() = default;
  explicit LazyRange(std::unique_ptr<detail::Source<T>> source) : m_source(std::move(source)) {}
  LazyRange(LazyRange&&) noexcept = default;
  LazyRange& operator=(LazyRange&&) noexcept = default;

  [[nodiscard]] iterator begin() { return m_source ? iterator(this) : iterator(); }
  [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }

 private:
  std::unique_ptr<detail::Source<T>> m_source;
  T m_current{};
};

namespace detail {

// The file-system operations behind PosixPath, on its canonical text.
StatResult stat(const std::string& path, bool follow_symlinks);
/// stat(), with the errors Python's is_dir() and friends swallow (ENOENT, ENOTDIR, EBADF,
/// ELOOP) as nullopt; others are raised.
std::optional<StatResult> stat_if_exists(const std::string& path, bool follow_symlinks);
std::string getcwd();
std::string expanduser(const RawPath& path);
std::string realpath(const std::string& path, bool strict);
bool is_mount(const std::string& path, const std::string& parent);
std::string owner(std::uint32_t uid);
std::string group(std::uint32_t gid);
void chmod(const std::string& path, unsigned mode, bool follow_symlinks);
void mkdir(const std::string& path, unsigned mode);
void rmdir(const std::string& path);
void touch(const std::string& path, unsigned mode, bool exist_ok);
void unlink(const std::string& path, bool missing_ok);
void rename(const std::string& from, const std::string& to);
void symlink(const std::string& target, const std::string& link);
void hardlink(const std::string& target, const std::string& link);
std::string readlink(const std::string& path);
std::string read_bytes(const std::string& path);
std::size_t write_bytes(const std::string& path, std::string_view data);
std::string read_text(const std::string& path, const TextOptions& options);
std::size_t write_text(const std::string& path, std::string_view data, const TextOptions& options);
std::unique_ptr<Source<PosixPath>> iterdir(const PosixPath& path);
std::unique_ptr<Source<PosixPath>> glob(const PosixPath& path, std::string_view pattern,
                                        bool recursive);
std::unique_ptr<Source<WalkEntry>> walk(const PosixPath& path, WalkOptions options);

}  // namespace detail

/// Python's PosixPath: a PurePosixPath that can also reach the file system. Errors are the
/// OSError subclasses Python raises (FileNotFoundError, PermissionError, ...) carrying the
/// path as their filename.
class PosixPath : public BasicPurePath<PosixPath, Flavour::posix> {
 public:
  static constexpr std::string_view class_name = "PosixPath";
  using BasicPurePath::BasicPurePath;

  // ---- where ----
  /// Path.cwd(): the current directory.
  [[nodiscard]] static PosixPath cwd() { return PosixPath(detail::getcwd()); }
  /// Path.home(): the user's home directory ($HOME, else the password database).
  [[nodiscard]] static PosixPath home() { return PosixPath("~").expanduser(); }
  /// "~" and "~user" at the start replaced by the home directory; RuntimeError when it
  /// cannot be found.
  [[nodiscard]] PosixPath expanduser() const { return PosixPath(detail::expanduser(raw())); }
  /// The path made absolute against the current directory, without resolving anything.
  [[nodiscard]] PosixPath absolute() const {
    return is_absolute() ? *this : PosixPath(detail::getcwd(), *this);
  }
  /// The absolute path with symlinks, "." and ".." resolved. strict: FileNotFoundError
  /// when a part is missing. A symlink loop is RuntimeError("Symlink loop from '...'").
  [[nodiscard]] PosixPath resolve(bool strict = false) const {
    return PosixPath(detail::realpath(str(), strict));
  }
  [[nodiscard]] PosixPath readlink() const { return PosixPath(detail::readlink(str())); }

  // ---- questions ----
  [[nodiscard]] StatResult stat(FollowOptions options = {}) const {
    return detail::stat(str(), options.follow_symlinks);
  }
  [[nodiscard]] StatResult lstat() const { return detail::stat(str(), false); }
  /// exists(), is_dir(), ...: false when the path is missing, a part of it is not a
  /// directory, or there is a symlink loop; other errors (PermissionError) are raised.
  [[nodiscard]] bool exists() const { return detail::stat_if_exists(str(), true).has_value(); }
  [[nodiscard]] bool is_dir() const { return has_type(0040000, true); }
  [[nodiscard]] bool is_file() const { return has_type(0100000, true); }
  [[nodiscard]] bool is_symlink() const { return has_type(0120000, false); }
  [[nodiscard]] bool is_socket() const { return has_type(0140000, true); }
  [[nodiscard]] bool is_fifo() const { return has_type(0010000, true); }
  [[nodiscard]] bool is_block_device() const { return has_type(0060000, true); }
  [[nodiscard]] bool is_char_device() const { return has_type(0020000, true); }
  /// True when the path is a mount point: another device than its parent, or the root.
  [[nodiscard]] bool is_mount() const { return detail::is_mount(str(), parent().str()); }
  /// Whether the two name the same file (same device and inode).
  template <PathSegment A>
  [[nodiscard]] bool samefile(const A& other) const {
    const StatResult a = stat();
    const StatResult b = PosixPath(other).stat();
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
  }
  /// The owner's and group's names; KeyError when the id has no name.
  [[nodiscard]] std::string owner() const { return detail::owner(stat().st_uid); }
  [[nodiscard]] std::string group() const { return detail::group(stat().st_gid); }

  // ---- directories ----
  /// The entries of this directory (not "." and ".."), lazily. The directory is opened
  /// now, so errors opening it are raised here.
  [[nodiscard]] LazyRange<PosixPath> iterdir() const {
    return LazyRange<PosixPath>(detail::iterdir(*this));
  }
  /// The paths under this directory matching a relative pattern, lazily: "*", "?", "[seq]"
  /// and "[!seq]" within one part, "**" for this directory and all below it (symlinks to
  /// directories are not followed by "**"), and a trailing "/" for directories only.
  /// ValueError for an empty pattern or "**" inside a part; NotImplementedError for an
  /// absolute one. A directory that cannot be read, or vanishes, is skipped.
  [[nodiscard]] LazyRange<PosixPath> glob(std::string_view pattern) const {
    return LazyRange<PosixPath>(detail::glob(*this, pattern, false));
  }
  /// glob("**/" + pattern).
  [[nodiscard]] LazyRange<PosixPath> rglob(std::string_view pattern) const {
    return LazyRange<PosixPath>(detail::glob(*this, pattern, true));
  }
  /// Python 3.12's walk(): each directory as (dirpath, dirnames, filenames). Top-down, the
  /// loop may erase names from dirnames to keep the walk out of them.
  [[nodiscard]] LazyRange<WalkEntry> walk(WalkOptions options = {}) const;

  // ---- changes ----
  void chmod(unsigned mode, FollowOptions options = {}) const {
    detail::chmod(str(), mode, options.follow_symlinks);
  }
  /// chmod of a symlink itself; NotImplementedError where the system cannot (Linux).
  void lchmod(unsigned mode) const { detail::chmod(str(), mode, false); }
  /// Parents are made with mode 0777; exist_ok accepts an existing directory.
  void mkdir(unsigned mode = 0777, MkdirOptions options = {}) const;
  void mkdir(MkdirOptions options) const { mkdir(0777, options); }
  void rmdir() const { detail::rmdir(str()); }
  /// Creates the file, or with exist_ok updates its times; FileExistsError otherwise.
  void touch(unsigned mode = 0666, bool exist_ok = true) const {
    detail::touch(str(), mode, exist_ok);
  }
  void unlink(bool missing_ok = false) const { detail::unlink(str(), missing_ok); }
  /// Renames to target (replacing a file there, as POSIX rename does); returns target.
  template <PathSegment A>
  PosixPath rename(const A& target) const {
    PosixPath to(target);
    detail::rename(str(), to.str());
    return to;
  }
  template <PathSegment A>
  PosixPath replace(const A& target) const {
    return rename(target);
  }
  /// Makes this path a symlink to target (target_is_directory matters only on Windows).
  template <PathSegment A>
  void symlink_to(const A& target, bool target_is_directory = false) const {
    (void)target_is_directory;
    detail::symlink(PosixPath(target).str(), str());
  }
  /// Makes this path a hard link to target.
  template <PathSegment A>
  void hardlink_to(const A& target) const {
    detail::hardlink(PosixPath(target).str(), str());
  }

  // ---- contents ----
  /// The file's bytes (std::string as bytes).
  [[nodiscard]] std::string read_bytes() const { return detail::read_bytes(str()); }
  /// Writes the bytes, replacing the file's contents; returns how many.
  std::size_t write_bytes(std::string_view data) const { return detail::write_bytes(str(), data); }
  /// The file's text decoded to UTF-8, with "\r\n" and "\r" read as "\n" (Python's
  /// universal newlines).
  [[nodiscard]] std::string read_text(TextOptions options = {}) const {
    return detail::read_text(str(), options);
  }
  /// read_text(encoding, errors) with Python's positional arguments.
  template <class E, class R = std::string_view>
  requires std::convertible_to<const E&, std::string_view> &&
      std::convertible_to<const R&, std::string_view>
  [[nodiscard]] std::string read_text(const E& encoding, const R& errors = "strict") const {
    return read_text(TextOptions{std::string(std::string_view(encoding)),
                                 std::string(std::string_view(errors)), std::nullopt});
  }
  /// Writes the text encoded; returns the number of characters given, as Python does. The
  /// text is encoded in full before the file is opened, so an error leaves the file as it was.
  std::size_t write_text(std::string_view data, TextOptions options = {}) const {
    return detail::write_text(str(), data, options);
  }
  /// write_text(data, encoding, errors) with Python's positional arguments.
  template <class E, class R = std::string_view>
  requires std::convertible_to<const E&, std::string_view> &&
      std::convertible_to<const R&, std::string_view>
          std::size_t write_text(std::string_view data, const E& encoding,
                                 const R& errors = "strict")
  const {
    return write_text(data, TextOptions{std::string(std::string_view(encoding)),
                                        std::string(std::string_view(errors)), std::nullopt});
  }
  /// Python's open(path, mode, buffering, encoding, errors, newline): a File, binary or text.
  [[nodiscard]] File open(std::string_view mode = "r", OpenOptions options = {}) const {
    return detail::open_file(str(), mode, options);
  }

 private:
  [[nodiscard]] bool has_type(std::uint32_t type, bool follow) const {
    const auto st = detail::stat_if_exists(str(), follow);
    return st && (st->st_mode & 0170000) == type;
  }
};

/// Python's Path: the concrete path of this system, PosixPath here. (WindowsPath cannot be
/// made on POSIX in Python either; batteries leaves it out, so the mistake is a compile
/// error.)
using Path = PosixPath;

/// One directory of walk(): Python's (dirpath, dirnames, filenames).
struct WalkEntry {
  PosixPath dirpath;
  std::vector<std::string> dirnames;
  std::vector<std::string> filenames;
};

inline LazyRange<WalkEntry> PosixPath::walk(WalkOptions options) const {
  return LazyRange<WalkEntry>(detail::walk(*this, std::move(options)));
}

inline void PosixPath::mkdir(unsigned mode, MkdirOptions options) const {
  try {
    detail::mkdir(str(), mode);
  } catch (const FileNotFoundError&) {
    const PosixPath up = parent();
    if (!options.parents || up == *this) throw;
    up.mkdir(0777, {.parents = true, .exist_ok = true});
    mkdir(mode, {.parents = false, .exist_ok = options.exist_ok});
  } catch (const OSError&) {
    // As Python: EEXIST may hide behind EACCES or EROFS, so look at what is there.
    if (!options.exist_ok || !is_dir()) throw;
  }
}

}  // namespace batteries::pathlib
