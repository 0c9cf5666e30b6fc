// walk(): Python 3.12's Path.walk over an explicit stack, top-down or bottom-up, each
// directory read once with its d_type.
#include <sys/stat.h>

#include <batteries/pathlib/path.hpp>
#include <variant>

#include "dirent.hpp"

namespace batteries::pathlib::detail {

namespace {

// The directories above one being walked into through symlinks, to see a loop coming.
struct Ancestor {
  std::uint64_t dev;
  std::uint64_t ino;
  std::shared_ptr<const Ancestor> up;
};

struct WalkDir {
  DirRef ref;
  std::shared_ptr<const Ancestor> ancestors;  // only with follow_symlinks
};

class WalkSource final : public Source<WalkEntry> {
 public:
  WalkSource(const PosixPath& path, WalkOptions options) : m_options(std::move(options)) {
    m_stack.emplace_back(WalkDir{DirRef{path.raw(), nullptr, 0}, nullptr});
  }

  bool next(WalkEntry& out) override {
    // Top-down, the loop has had the last entry and may have pruned its dirnames.
    if (m_last) {
      push_children(*m_last, out.dirnames);
      m_last.reset();
    }
    while (!m_stack.empty()) {
      auto item = std::move(m_stack.back());
      m_stack.pop_back();
      if (auto* done = std::get_if<WalkEntry>(&item)) {
        out = std::move(*done);
        return true;
      }
      WalkDir dir = std::move(std::get<WalkDir>(item));
      WalkEntry entry;
      std::shared_ptr<UniqueFd> handle;
      if (!read(dir, entry, handle)) continue;
      Listed listed{std::move(dir.ref.path), std::move(handle), std::move(dir.ancestors)};
      if (m_options.top_down) {
        out = std::move(entry);
        out.dirpath = PosixPath::from_raw(listed.path);
        m_last = std::move(listed);
        return true;
      }
      entry.dirpath = PosixPath::from_raw(listed.path);
      const std::vector<std::string> names = entry.dirnames;
      m_stack.emplace_back(std::move(entry));
      push_children(listed, names);
    }
    return false;
  }

 private:
  // A directory just read: what its children need to be opened.
  struct Listed {
    RawPath path;
    std::shared_ptr<UniqueFd> handle;
    std::shared_ptr<const Ancestor> ancestors;
  };

  void report(int err, const RawPath& path) {
    if (!m_options.on_error) return;
    try {
      raise_os_error(err, path.str.empty() ? "." : path.str);
    } catch (const OSError& error) {
      m_options.on_error(error);
    }
  }

  // Reads one directory into entry's names; false (after on_error) when it cannot be read.
  bool read(WalkDir& dir, WalkEntry& entry, std::shared_ptr<UniqueFd>& handle) {
    if (const int err = open_dir(m_reader, dir.ref); err != 0) {
      report(err, dir.ref.path);
      return false;
    }
    if (m_options.follow_symlinks) {
      struct stat st {};
      if (::fstat(m_reader.fd(), &st) == 0) {
        for (const Ancestor* a = dir.ancestors.get(); a != nullptr; a = a->up.get()) {
          if (a->dev == st.st_dev && a->ino == st.st_ino) {
            m_reader.close();
            report(ELOOP, dir.ref.path);
            return false;
          }
        }
        dir.ancestors = std::make_shared<const Ancestor>(
            Ancestor{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                     std::move(dir.ancestors)});
      }
    }
    DirEntry e;
    while (m_reader.next(e)) {
      if (entry_is_dir(m_reader.fd(), e, m_options.follow_symlinks)) {
        entry.dirnames.emplace_back(e.name);
      } else {
        entry.filenames.emplace_back(e.name);
      }
    }
    if (const int err = m_reader.error(); err != 0) {
      m_reader.close();
      report(err, dir.ref.path);
      return false;
    }
    if (!entry.dirnames.empty()) {
      const int fd = m_reader.release();
      if (fd >= 0) handle = std::make_shared<UniqueFd>(fd);
    }
    m_reader.close();
    return true;
  }

  // Python: paths += [path / d for d in reversed(dirnames)], so the first is visited next.
  void push_children(const Listed& listed, const std::vector<std::string>& names) {
    for (auto it = names.rbegin(); it != names.rend(); ++it) {
      WalkDir child;
      if (it->empty() || *it == "." || it->find('/') != std::string::npos) {
        // A name the loop put there that is not one plain part: join it as a path would.
        const std::string_view text(*it);
        child.ref.path = join(Flavour::posix, listed.path, parse(Flavour::posix, &text, 1));
      } else {
        child.ref.path = child_of(listed.path, *it, &child.ref.name_pos);
        child.ref.parent = listed.handle;
      }
      child.ancestors = listed.ancestors;
      m_stack.emplace_back(std::move(child));
    }
  }

  WalkOptions m_options;
  std::vector<std::variant<WalkDir, WalkEntry>> m_stack;
  std::optional<Listed> m_last;
  DirReader m_reader;
};

}  // namespace

std::unique_ptr<Source<WalkEntry>> walk(const PosixPath& path, WalkOptions options) {
  return std::make_unique<WalkSource>(path, std::move(options));
}

}  // namespace batteries::pathlib::detail
