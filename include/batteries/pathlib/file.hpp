// batteries::pathlib::File: the file object Path.open() returns, Python 3.11's built-in open().
//
// open(mode, buffering, encoding, errors, newline) makes the same three kinds of object Python
// does, and File behaves as the one Python would have made, down to what reaches the file and
// when (checked call by call against CPython 3.11):
//   - binary, buffering=0: a raw FileIO. read(n) and write() are one system call each, as
//     Python's are; readline() reads a byte at a time so that it never reads past the line.
//   - binary, buffered ("rb", "wb", "r+b", ...): a BufferedReader, BufferedWriter or
//     BufferedRandom with one buffer for reading and writing, of st_blksize bytes (8192 when
//     the file system gives none) or `buffering` bytes.
//   - text ("r", "w", "a+", ...): a TextIOWrapper over the buffered file, which keeps up to 8192
//     encoded bytes of its own before the buffer sees them. Text is batteries text: UTF-8 in a
//     std::string, where a byte that is not UTF-8 stands for the lone surrogate Python's
//     surrogateescape gives it. Sizes in text mode count characters (code points), as Python's
//     do. Universal newlines as Python's; BOMs (utf-8-sig, utf-16, utf-32) written only at the
//     start of the stream, as Python writes them.
// UTF-8 (also -sig), ASCII and Latin-1 are decoded a chunk at a time. Every other encoding is
// decoded by reading the rest of the file at once, the first time text is needed: the same
// text, but more memory, and the buffer's position is then at the end of the file (which a
// later write or truncate() without a size sees), where Python's is a chunk further on.
//
// Errors are Python's: ValueError for a closed file and bad arguments, UnsupportedOperation for
// a read from a write-only file (and the like), the OSError subclass for the errno of a failed
// system call (with the path as filename when open() fails), LookupError for an unknown
// encoding, UnicodeDecodeError and UnicodeEncodeError from the codec.
//
// Text tell() returns the byte offset of the next character, which seek() takes back. Python's
// opaque cookie has the same value wherever its decoder holds no state; where it holds a '\r'
// or part of a character, Python returns a number above 2**64 and batteries the byte offset.
// While decoded text is buffered, tell() needs to map it back to bytes without decoding again:
// it can for UTF-8 and ASCII read with errors "strict" or "surrogateescape" and for Latin-1, and
// raises UnsupportedOperation for other encodings and error handlers until the buffered text
// has been read. Text seek() takes 0, a value from tell() (any byte offset), seek(0, SEEK_CUR)
// and seek(0, SEEK_END), and raises Python's errors for the rest.
//
// Not carried over from Python: newlines, buffer, raw, detach(), peek(), read1(), readinto()
// (binary files here are what Python's are without them); encoding()/errors() give nullopt in
// binary mode where Python raises AttributeError; buffering=1 in binary mode is accepted
// without Python's RuntimeWarning; and after a `for` loop over a text file is left early and
// flush() or seek() turns tell() back on, Python's tell() can report the read-ahead position
// or fail ("can't reconstruct logical file position") where batteries reports the position.
//
// Thread-safety: a File belongs to one thread at a time; calls on the same File need external
// synchronization (Python's buffered objects take a lock; batteries leaves that to the caller).
// Distinct File objects, even on the same path, may be used from different threads.
//
// Invariants: a File owns its file descriptor (opened O_CLOEXEC). It is move-only; the destructor
// flushes and closes it, swallowing errors as Python's __del__ does, so call close() to see
// them. A moved-from or default-constructed File is closed.
#pragma once

#include <batteries/errors.hpp>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <vector>

namespace batteries::pathlib {

/// Python's io.UnsupportedOperation: the file cannot do that ("not readable", "write",
/// "File not open for writing", "underlying stream is not seekable", ...). Python derives it
/// from both OSError and ValueError; a batteries exception is a std::exception exactly once, so
/// it can have only one of them, and it is OSError, Python's first (errno_() is nullopt).
/// `catch (const ValueError&)` does not catch it.
BATTERIES_EXCEPTION(UnsupportedOperation, OSError);

/// open()'s arguments after mode, Python's defaults: buffering -1 is the default buffer (line
/// buffering for a terminal in text mode), 0 unbuffered (binary only), 1 line buffering (text
/// only), n a buffer of n bytes. encoding None is UTF-8, errors None "strict", newline None
/// universal newlines. Binary mode takes no encoding, errors or newline.
struct OpenOptions {
  int buffering = -1;
  std::optional<std::string> encoding = std::nullopt;
  std::optional<std::string> errors = std::nullopt;
  std::optional<std::string> newline = std::nullopt;
};

class File;

namespace detail {

/// Python's open(path, mode, buffering, encoding, errors, newline), behind PosixPath::open().
/// The caller owns the returned File.
[[nodiscard]] File open_file(const std::string& path, std::string_view mode,
                             const OpenOptions& options);

}  // namespace detail

/// An open file: Python's FileIO, BufferedReader/Writer/Random or TextIOWrapper, as open()
/// chose. Methods that Python offers on all of them are here; bytes in binary mode and text in
/// text mode are both std::string.
class File {
 public:
  /// `for (const std::string& line : file)`: Python's iteration over a file, one line (with its
  /// ending) at a time. Single-pass; the File must stay where it is while the loop runs. In text
  /// mode, tell() is disabled until the loop reaches the end or flush()/seek() is called, as
  /// in Python ("telling position disabled by next() call").
  class iterator {
   public:
    using value_type = std::string;
    using difference_type = std::ptrdiff_t;
    using reference = const std::string&;
    using iterator_concept = std::input_iterator_tag;

    iterator() = default;
    const std::string& operator*() const noexcept { return m_file->m_line; }
    const std::string* operator->() const noexcept { return &m_file->m_line; }
    iterator& operator++();
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return it.m_file == nullptr;
    }

   private:
    friend class File;
    explicit iterator(File* file) : m_file(file) { ++*this; }
    File* m_file = nullptr;
  };

  /// A closed File, as a moved-from one is.
  File() noexcept;
  File(File&& other) noexcept;
  /// Closes this file first (swallowing errors, as the destructor does).
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File();

  // ---- reading ----
  /// Up to `size` bytes (binary) or characters (text); everything to the end when negative.
  /// Empty at the end of the file. Buffered binary mode refuses a size below -1, as Python does.
  [[nodiscard]] std::string read(std::int64_t size = -1);
  /// One line with its ending ("\n" in binary mode; in text mode as `newline` says), or at most
  /// `size` bytes/characters of it when size >= 0. Empty at the end of the file.
  [[nodiscard]] std::string readline(std::int64_t size = -1);
  /// The remaining lines; with hint > 0, stops once the lines so far total more than hint
  /// bytes/characters.
  [[nodiscard]] std::vector<std::string> readlines(std::int64_t hint = -1);

  // ---- writing ----
  /// Writes bytes (binary) or text (text: newlines translated as `newline` says, then encoded;
  /// an encoding error writes nothing of this call). Returns the bytes written (binary; for
  /// buffering=0, what the one write(2) took) or the characters given (text).
  std::size_t write(std::string_view data);
  /// write() of each item, without separators.
  template <std::ranges::input_range R>
  requires std::convertible_to<std::ranges::range_reference_t<R>, std::string_view>
  void writelines(R&& lines) {
    check_open();
    for (auto&& line : lines) write(std::string_view(line));
  }
  void writelines(std::initializer_list<std::string_view> lines) {
    writelines(std::vector<std::string_view>(lines));
  }
  /// Writes out what is buffered (it does not fsync).
  void flush();

  // ---- position ----
  /// Moves to offset from whence (SEEK_SET, SEEK_CUR, SEEK_END; binary also SEEK_DATA and
  /// SEEK_HOLE); returns the new position. Text mode takes only seek(cookie) with a cookie from
  /// tell() (or any byte offset), seek(0, SEEK_CUR) and seek(0, SEEK_END).
  std::int64_t seek(std::int64_t offset, int whence = 0);
  /// The position: a byte offset (text mode: see the header comment).
  [[nodiscard]] std::int64_t tell();
  /// Resizes the file to `size` bytes, or to the current position; the position does not move.
  /// Returns the new size.
  std::int64_t truncate(std::optional<std::int64_t> size = std::nullopt);

  // ---- the file ----
  /// Flushes and closes; a second close() does nothing. The descriptor is closed even when the
  /// flush fails, and the flush's error is then raised.
  void close();
  [[nodiscard]] bool closed() const noexcept;
  [[nodiscard]] int fileno() const;
  /// The path it was opened with (Python's f.name).
  [[nodiscard]] const std::string& name() const noexcept;
  /// Python's f.mode: the mode given, in text mode; FileIO's form ("rb", "wb", "ab", "xb",
  /// "rb+", ...) in binary mode, so "w+b" shows as "rb+" as in Python.
  [[nodiscard]] const std::string& mode() const noexcept;
  [[nodiscard]] bool readable() const;
  [[nodiscard]] bool writable() const;
  [[nodiscard]] bool seekable() const;
  [[nodiscard]] bool isatty() const;
  /// Not in Python (there, the type says it): whether this is a binary file.
  [[nodiscard]] bool binary() const noexcept;
  /// Text mode's f.encoding and f.errors; nullopt in binary mode (an AttributeError in Python).
  [[nodiscard]] std::optional<std::string> encoding() const;
  [[nodiscard]] std::optional<std::string> errors() const;
  /// Text mode's f.line_buffering; false in binary mode.
  [[nodiscard]] bool line_buffering() const noexcept;

  // ---- iteration ----
  /// Raises ValueError("I/O operation on closed file.") on a closed file, as iter(f) does.
  [[nodiscard]] iterator begin();
  [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }

 private:
  struct Impl;
  friend File detail::open_file(const std::string& path, std::string_view mode,
                                const OpenOptions& options);
  explicit File(std::unique_ptr<Impl> impl) noexcept;
  void check_open() const;
  Impl& impl() const;  // ValueError for a moved-from File

  std::unique_ptr<Impl> m_impl;
  std::string m_line;  // the iterator's current line
};

}  // namespace batteries::pathlib
