// glob() and rglob(): Python 3.11's selectors (precise, wildcard, recursive) run lazily over
// an explicit stack, reading each directory once with its d_type.
#include <algorithm>
#include <batteries/pathlib/detail/fnmatch.hpp>
#include <batteries/pathlib/path.hpp>
#include <optional>
#include <unordered_set>

#include "dirent.hpp"

namespace batteries::pathlib::detail {

namespace {

// One part of the pattern. A trailing "/" adds a `mark` step: it keeps the walk to
// directories and yields the path it is given, as Python's empty last part does.
struct Step {
  enum class Kind : std::uint8_t { precise, wildcard, recursive, mark };
  Kind kind;
  std::string name;              // precise
  std::optional<Pattern> match;  // wildcard
  bool dironly = false;          // more steps follow, so only directories qualify
};

std::vector<Step> compile(std::string_view pattern, bool recursive) {
  if (!recursive && pattern.empty()) {
    throw ValueError(std::string("Unacceptable pattern: ").append(py_repr(pattern)));
  }
  const RawPath parsed = parse(Flavour::posix, &pattern, 1);
  if (parsed.drv != 0 || parsed.root != 0) {
    throw NotImplementedError("Non-relative patterns are unsupported");
  }
  std::vector<Step> steps;
  if (recursive) steps.push_back({Step::Kind::recursive, {}, {}, false});
  std::string_view rest = parsed.rel();
  while (!rest.empty()) {
    const std::size_t cut = rest.find('/');
    const std::string_view part = rest.substr(0, cut);
    rest = cut == std::string_view::npos ? std::string_view() : rest.substr(cut + 1);
    if (part == "**") {
      steps.push_back({Step::Kind::recursive, {}, {}, false});
    } else if (part.find("**") != std::string_view::npos) {
      throw ValueError("Invalid pattern: '**' can only be an entire path component");
    } else if (part.find_first_of("*?[") != std::string_view::npos) {
      steps.push_back({Step::Kind::wildcard, {}, Pattern(part), false});
    } else {
      steps.push_back({Step::Kind::precise, std::string(part), {}, false});
    }
  }
  if (!pattern.empty() && pattern.back() == '/') steps.push_back({Step::Kind::mark, {}, {}, false});
  for (std::size_t i = 0; i + 1 < steps.size(); ++i) steps[i].dironly = true;
  return steps;
}

bool is_dir_path(const RawPath& path, bool need_dir) {
  try {
    const auto st = stat_if_exists(path.str.empty() ? "." : path.str, true);
    return st && (!need_dir || (st->st_mode & S_IFMT) == S_IFDIR);
  } catch (const OSError&) {
    return false;  // Python's selectors give up on a PermissionError
  }
}

// The work of one selector on one path, as a frame of the explicit stack.
struct Frame {
  Frame(std::size_t step_index, DirRef where) : step(step_index), dir(std::move(where)) {}
  std::size_t step = 0;  // steps.size() for the terminating selector
  DirRef dir;
  bool started = false;
  std::vector<RawPath> children;  // wildcard: the matches still to descend into
  std::size_t next_child = 0;
  std::vector<DirRef> pending;  // recursive: directories still to visit, the next last
};

class GlobSource final : public Source<PosixPath> {
 public:
  GlobSource(const PosixPath& path, std::vector<Step> steps)
      : m_steps(std::move(steps)), m_root(path.raw()) {
    std::size_t recursive = 0;
    for (const Step& s : m_steps) recursive += s.kind == Step::Kind::recursive ? 1 : 0;
    m_dedup = recursive > 1;
  }

  bool next(PosixPath& out) override {
    if (!m_begun) {
      m_begun = true;
      // Python's select_from: nothing unless the path is a directory.
      if (!PosixPath::from_raw(m_root).is_dir()) return false;
      m_stack.push_back(Frame{0, DirRef{m_root, nullptr, 0}});
    }
    for (;;) {
      if (m_ready_pos < m_ready.size()) {
        RawPath& path = m_ready[m_ready_pos++];
        if (emit(path, out)) return true;
        continue;
      }
      m_ready.clear();
      m_ready_pos = 0;
      if (m_stack.empty()) return false;
      Frame& top = m_stack.back();
      if (top.step == m_steps.size()) {
        RawPath path = std::move(top.dir.path);
        m_stack.pop_back();
        if (emit(path, out)) return true;
        continue;
      }
      const Step& step = m_steps[top.step];
      switch (step.kind) {
        case Step::Kind::precise:
        case Step::Kind::mark:
          run_precise(step);
          break;
        case Step::Kind::wildcard:
          run_wildcard(step);
          break;
        case Step::Kind::recursive:
          run_recursive();
          break;
      }
    }
  }

 private:
  bool emit(RawPath& path, PosixPath& out) {
    if (m_dedup && !m_seen.insert(path.str).second) return false;
    out = PosixPath::from_raw(std::move(path));
    return true;
  }

  void run_precise(const Step& step) {
    Frame frame = std::move(m_stack.back());
    m_stack.pop_back();
    RawPath path = step.kind == Step::Kind::mark ? std::move(frame.dir.path)
                                                 : child_of(frame.dir.path, step.name);
    if (is_dir_path(path, step.dironly)) {
      m_stack.push_back(Frame{frame.step + 1, DirRef{std::move(path), nullptr, 0}});
    }
  }

  void run_wildcard(const Step& step) {
    Frame& top = m_stack.back();
    if (!top.started) {
      top.started = true;
      if (open_dir(m_reader, top.dir) == 0) {
        DirEntry entry;
        while (m_reader.next(entry)) {
          if (!step.match->matches(entry.name)) continue;
          if (step.dironly && !entry_is_dir(m_reader.fd(), entry, true)) continue;
          top.children.push_back(child_of(top.dir.path, entry.name));
        }
        m_reader.close();
      }
    }
    if (top.next_child < top.children.size()) {
      RawPath path = std::move(top.children[top.next_child++]);
      const std::size_t step_index = top.step + 1;
      m_stack.push_back(Frame{step_index, DirRef{std::move(path), nullptr, 0}});
    } else {
      m_stack.pop_back();
    }
  }

  // Python's _RecursiveWildcardSelector: this directory and every one below it (not through
  // symlinks), in preorder, each handed to the next step. When that step is the last and a
  // wildcard, its matches come from the same reading of the directory.
  void run_recursive() {
    Frame& top = m_stack.back();
    if (!top.started) {
      top.started = true;
      top.pending.push_back(std::move(top.dir));
    }
    if (top.pending.empty()) {
      m_stack.pop_back();
      return;
    }
    DirRef dir = std::move(top.pending.back());
    top.pending.pop_back();
    const std::size_t next = top.step + 1;
    const Step* fused = nullptr;
    if (next + 1 == m_steps.size() && m_steps[next].kind == Step::Kind::wildcard) {
      fused = &m_steps[next];
    }
    const std::size_t first_new = top.pending.size();
    if (open_dir(m_reader, dir) == 0) {
      DirEntry entry;
      while (m_reader.next(entry)) {
        if (fused != nullptr && fused->match->matches(entry.name)) {
          m_ready.push_back(child_of(dir.path, entry.name));
        }
        if (!entry_is_dir(m_reader.fd(), entry, false)) continue;
        DirRef sub;
        sub.path = child_of(dir.path, entry.name, &sub.name_pos);
        top.pending.push_back(std::move(sub));
      }
      if (top.pending.size() > first_new) {
        const int fd = m_reader.release();
        if (fd >= 0) {
          auto handle = std::make_shared<UniqueFd>(fd);
          for (std::size_t i = first_new; i < top.pending.size(); ++i)
            top.pending[i].parent = handle;
        }
      }
      m_reader.close();
      // Visit the subdirectories in the order they were read.
      std::reverse(top.pending.begin() + static_cast<std::ptrdiff_t>(first_new), top.pending.end());
    }
    if (fused == nullptr) {
      // `top` may move when the stack grows; it is not used after this.
      m_stack.push_back(Frame{next, std::move(dir)});
      m_stack.back().dir.parent.reset();
    }
  }

  std::vector<Step> m_steps;
  RawPath m_root;
  bool m_begun = false;
  bool m_dedup = false;
  std::unordered_set<std::string> m_seen;
  std::vector<Frame> m_stack;
  std::vector<RawPath> m_ready;  // results already found, yielded before the stack moves
  std::size_t m_ready_pos = 0;
  DirReader m_reader;
};

}  // namespace

std::unique_ptr<Source<PosixPath>> glob(const PosixPath& path, std::string_view pattern,
                                        bool recursive) {
  return std::make_unique<GlobSource>(path, compile(pattern, recursive));
}

}  // namespace batteries::pathlib::detail
