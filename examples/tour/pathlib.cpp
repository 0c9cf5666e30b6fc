// Tour section: Python's pathlib examples (pure paths, then the file system in a scratch
// directory), with the output Python prints.
#include <stdlib.h>

#include <fmt/ranges.h>

#include <algorithm>
#include <batteries/pathlib.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tour.hpp"

using batteries::pathlib::Path;
using batteries::pathlib::PurePosixPath;
using batteries::pathlib::PureWindowsPath;

namespace {

// Python's repr() of a list of paths or of strings, and of a bool.
template <class Range>
std::string reprs(Range&& range) {
  std::vector<std::string> out;
  for (const auto& item : range) {
    if constexpr (std::is_convertible_v<decltype(item), std::string_view>) {
      out.push_back(batteries::py_repr(item));
    } else {
      out.push_back(item.repr());
    }
  }
  return fmt::format("[{}]", fmt::join(out, ", "));
}
const char* py(bool value) { return value ? "True" : "False"; }

}  // namespace

void tour::pathlib() {
  heading("pathlib: object-oriented paths, pure and concrete");
  // config = Path("/home/user/projects") / "myapp" / "config.json"
  const Path config = Path("/home/user/projects") / "myapp" / "config.json";
  fmt::print("{}\n", config.repr());
  fmt::print("parent={} name={} stem={} suffix={} exists={}\n", config.parent().str(),
             config.name(), config.stem(), config.suffix(), py(config.exists()));

  // The pure-path examples of Python's documentation.
  fmt::print("PurePosixPath('foo', 'some/path', 'bar') -> {}\n",
             PurePosixPath("foo", "some/path", "bar").repr());
  fmt::print("PurePosixPath('/etc') / 'init.d' / 'apache2' -> {}\n",
             (PurePosixPath("/etc") / "init.d" / "apache2").repr());
  fmt::print("PureWindowsPath('c:/Program Files/PSF').parts -> {}\n",
             reprs(PureWindowsPath("c:/Program Files/PSF").parts()));
  fmt::print("PureWindowsPath('//host/share/foo.txt').anchor -> {}\n",
             batteries::py_repr(PureWindowsPath("//host/share/foo.txt").anchor()));
  fmt::print("PureWindowsPath('c:/foo/bar/setup.py').parents -> {}\n",
             reprs(PureWindowsPath("c:/foo/bar/setup.py").parents()));
  fmt::print("PurePosixPath('my/library.tar.gz').suffixes -> {}\n",
             reprs(PurePosixPath("my/library.tar.gz").suffixes()));
  fmt::print("PureWindowsPath('README').with_suffix('.txt') -> {}\n",
             PureWindowsPath("README").with_suffix(".txt").repr());
  fmt::print("PurePosixPath('/etc/passwd').relative_to('/etc') -> {}\n",
             PurePosixPath("/etc/passwd").relative_to("/etc").repr());
  try {
    (void)PurePosixPath("/etc/passwd").relative_to("/usr");
  } catch (const batteries::ValueError& e) {
    fmt::print("relative_to('/usr') raises ValueError: {}\n", e.what());
  }
  fmt::print(
      "PurePath('a/b.py').match('*.py') -> {}, PureWindowsPath('b.py').match('*.PY') -> {}\n",
      py(PurePosixPath("a/b.py").match("*.py")), py(PureWindowsPath("b.py").match("*.PY")));
  fmt::print("PureWindowsPath('C:/Windows') == PureWindowsPath('c:/windows') -> {}\n",
             py(PureWindowsPath("C:/Windows") == PureWindowsPath("c:/windows")));

  // The file system, in a scratch directory: a small project, globbed, walked and read.
  std::string scratch =
      (Path(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") / "batteries-tour-XXXXXX")
          .str();
  if (::mkdtemp(scratch.data()) == nullptr) batteries::raise_errno(scratch);
  const Path root(scratch);
  (root / "myapp" / "tests").mkdir({.parents = true});
  (root / "myapp" / "__init__.py").write_text("");
  (root / "myapp" / "main.py").write_text("print('hello')\n");
  (root / "myapp" / "tests" / "test_main.py").write_text("def test(): pass\n");
  (root / "myapp" / "config.json").write_text("{\"debug\": true}\n");
  const Path project = root / "myapp";
  std::vector<std::string> dirs;
  for (const Path& p : project.iterdir()) {
    if (p.is_dir()) dirs.push_back(p.name());
  }
  fmt::print("[p.name for p in project.iterdir() if p.is_dir()] -> {}\n", reprs(dirs));
  std::vector<std::string> found;
  for (const Path& p : project.rglob("*.py")) found.push_back(p.relative_to(project).str());
  std::sort(found.begin(), found.end());
  fmt::print("sorted(project.rglob('*.py')) -> {}\n", reprs(found));
  const Path cfg = project / "config.json";
  fmt::print("config.exists() -> {}, config.read_text() -> {}\n", py(cfg.exists()),
             batteries::py_repr(cfg.read_text()));
  std::size_t files = 0;
  for (const auto& entry : project.walk()) files += entry.filenames.size();
  fmt::print("files under myapp, by walk(): {}\n", files);
  try {
    (void)(project / "missing.txt").read_text();
  } catch (const batteries::FileNotFoundError& e) {
    fmt::print("read_text() of a missing file raises FileNotFoundError: {}\n",
               Path(*e.filename()).relative_to(root).str());
  }
  // Clean up, deepest first (walk bottom-up).
  for (const auto& entry : root.walk({.top_down = false})) {
    for (const std::string& name : entry.filenames) (entry.dirpath / name).unlink();
    entry.dirpath.rmdir();
  }
}
