// Tests of the symbolizer: call sites in a plugin and in this executable, inline chains, fallbacks.
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "fs.hpp"
#include "tracemalloc/symbolize.hpp"

#ifdef __clang__
#define SYMBOLIZE_TEST_NOINLINE [[gnu::noinline]]
#else
#define SYMBOLIZE_TEST_NOINLINE [[gnu::noipa]]
#endif

namespace symbolize_test_ns {

SYMBOLIZE_TEST_NOINLINE std::uintptr_t return_address() {
  asm volatile("");
  return reinterpret_cast<std::uintptr_t>(__builtin_return_address(0));
}

// A call site in this executable, in a namespace and with a parameter, so that its frame's
// function name shows both demangled.
SYMBOLIZE_TEST_NOINLINE std::uintptr_t call_site(int tag) {
  std::uintptr_t address = return_address();  // MARK: test_call_site
  asm volatile("" : "+r"(address) : "r"(tag));
  return address;
}

}  // namespace symbolize_test_ns

namespace {

using batteries::tracemalloc::Frame;
using batteries::tracemalloc::detail::ModuleInfo;
using batteries::tracemalloc::detail::Symbolizer;

const std::string kPrograms = BATTERIES_TEST_PROGRAMS;
const std::string kSources = BATTERIES_TEST_SOURCE_DIR;
const std::string kPluginSource = kSources + "/programs/plugin.cpp";
const std::string kTestSource = kSources + "/symbolize_test.cpp";

// The line of `file` that ends with the comment "// MARK: <name>"; fails unless exactly one does.
int mark_line(const std::string& file, const std::string& name) {
  std::ifstream in(file);
  EXPECT_TRUE(in) << "cannot read " << file;
  const std::string needle = "// MARK: " + name;
  std::string line;
  int found = 0;
  int matches = 0;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    if (line.size() >= needle.size() &&
        line.compare(line.size() - needle.size(), needle.size(), needle) == 0) {
      found = lineno;
      ++matches;
    }
  }
  EXPECT_EQ(matches, 1) << "MARK " << name << " in " << file;
  return found;
}

std::string describe(const Frame& f) {
  std::ostringstream out;
  out << "{filename='" << f.filename << "' lineno=" << f.lineno << " function='" << f.function
      << "' module='" << f.module << "' offset=0x" << std::hex << f.offset << "}";
  return out.str();
}

std::string describe(const std::vector<Frame>& frames) {
  std::string out;
  for (const Frame& f : frames) out += describe(f) + "\n";
  return out;
}

auto fields(const Frame& f) {
  return std::make_tuple(f.filename, f.lineno, f.function, f.module, f.offset);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string self_exe() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// The build-id bytes from one PT_NOTE segment of a loaded object, "" if it has none.
std::string build_id_of(const dl_phdr_info* info, const ElfW(Phdr) & ph) {
  const std::size_t align = ph.p_align > 4 ? ph.p_align : 4;
  const auto* p = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
  const unsigned char* end = p + ph.p_memsz;
  auto up = [align](std::size_t n) { return (n + align - 1) / align * align; };
  while (p + sizeof(ElfW(Nhdr)) <= end) {
    const auto* note = reinterpret_cast<const ElfW(Nhdr)*>(p);
    const unsigned char* name = p + sizeof(ElfW(Nhdr));
    const unsigned char* desc = name + up(note->n_namesz);
    if (desc + note->n_descsz > end) break;
    if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 &&
        std::string_view(reinterpret_cast<const char*>(name), 4) == std::string_view("GNU", 4)) {
      return std::string(reinterpret_cast<const char*>(desc), note->n_descsz);
    }
    p = desc + up(note->n_descsz);
  }
  return {};
}

// The modules of this process, as the tracer describes them.
std::vector<ModuleInfo> current_modules() {
  std::vector<ModuleInfo> modules;
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) {
        auto& out = *static_cast<std::vector<ModuleInfo>*>(data);
        ModuleInfo m;
        const std::string name = info->dlpi_name != nullptr ? info->dlpi_name : "";
        if (out.empty() && name.empty()) {
          m.path = self_exe();
        } else if (!name.empty() && name[0] == '/') {
          m.path = name;  // else the vDSO, which has no file
        }
        m.bias = info->dlpi_addr;
        m.start = UINT64_MAX;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) != 0) {
            m.start = std::min<std::uint64_t>(m.start, info->dlpi_addr + ph.p_vaddr);
            m.end = std::max<std::uint64_t>(m.end, info->dlpi_addr + ph.p_vaddr + ph.p_memsz);
          } else if (ph.p_type == PT_NOTE && m.build_id.empty()) {
            m.build_id = build_id_of(info, ph);
          }
        }
        if (m.start < m.end) out.push_back(std::move(m));
        return 0;
      },
      &modules);
  return modules;
}

ModuleInfo* module_named(std::vector<ModuleInfo>& modules, const std::string& path) {
  for (ModuleInfo& m : modules) {
    if (m.path == path) return &m;
  }
  return nullptr;
}

// One of the test plugins, loaded for the length of a test.
class Plugin {
 public:
  explicit Plugin(const std::string& file) : m_path(kPrograms + "/" + file) {
    m_handle = ::dlopen(m_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  }
  ~Plugin() {
    if (m_handle != nullptr) ::dlclose(m_handle);
  }
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;

  [[nodiscard]] bool loaded() const { return m_handle != nullptr; }
  [[nodiscard]] const std::string& path() const { return m_path; }
  // Calls one of the plugin's `std::uintptr_t f()` functions.
  [[nodiscard]] std::uint64_t call(const char* name) const {
    void* sym = ::dlsym(m_handle, name);
    EXPECT_NE(sym, nullptr) << name;
    if (sym == nullptr) return 0;
    return reinterpret_cast<std::uintptr_t (*)()>(sym)();
  }

 private:
  std::string m_path;
  void* m_handle = nullptr;
};

class SymbolizerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!m_temp.empty()) batteries::testing::remove_tree(m_temp);
  }
  const std::string& temp_dir() {
    if (m_temp.empty()) m_temp = batteries::testing::make_temp_dir("symbolize_test");
    return m_temp;
  }

 private:
  std::string m_temp;
};

TEST_F(SymbolizerTest, ResolvesPluginCallSite) {
  Plugin plugin("libtracemalloc_plugin.so");
  ASSERT_TRUE(plugin.loaded()) << ::dlerror();
  const std::uint64_t address = plugin.call("plugin_callsite");
  std::vector<ModuleInfo> modules = current_modules();
  const ModuleInfo* module = module_named(modules, plugin.path());
  ASSERT_NE(module, nullptr);
  ASSERT_TRUE(module->start <= address && address < module->end);

  Symbolizer symbolizer(modules);
  const std::vector<Frame>& frames = symbolizer.resolve(address);
  ASSERT_EQ(frames.size(), 1u) << describe(frames);
  const Frame& f = frames[0];
  EXPECT_TRUE(ends_with(f.filename, "programs/plugin.cpp")) << describe(f);
  EXPECT_EQ(f.filename[0], '/') << describe(f);
  EXPECT_EQ(f.lineno, mark_line(kPluginSource, "plugin_callsite"));
  EXPECT_EQ(f.function, "plugin_callsite");
  EXPECT_EQ(f.module, plugin.path());
  EXPECT_EQ(f.offset, address - 1 - module->bias);
}

TEST_F(SymbolizerTest, ExpandsInlinedCalls) {
  Plugin plugin("libtracemalloc_plugin.so");
  ASSERT_TRUE(plugin.loaded()) << ::dlerror();
  const std::uint64_t address = plugin.call("plugin_inline_callsite");
  std::vector<ModuleInfo> modules = current_modules();
  const ModuleInfo* module = module_named(modules, plugin.path());
  ASSERT_NE(module, nullptr);

  Symbolizer symbolizer(modules);
  const std::vector<Frame>& frames = symbolizer.resolve(address);
  ASSERT_EQ(frames.size(), 2u) << describe(frames);
  EXPECT_EQ(frames[0].function, "plugin_ns::inner_helper()");
  EXPECT_EQ(frames[0].lineno, mark_line(kPluginSource, "plugin_inline_inner"));
  EXPECT_TRUE(ends_with(frames[0].filename, "programs/plugin.cpp")) << describe(frames[0]);
  EXPECT_EQ(frames[1].function, "plugin_inline_callsite");
  EXPECT_EQ(frames[1].lineno, mark_line(kPluginSource, "plugin_inline_outer"));
  EXPECT_TRUE(ends_with(frames[1].filename, "programs/plugin.cpp")) << describe(frames[1]);
  for (const Frame& f : frames) {
    EXPECT_EQ(f.module, plugin.path());
    EXPECT_EQ(f.offset, address - 1 - module->bias);
  }
}

TEST_F(SymbolizerTest, StrippedPluginFallsBackToSymbolTable) {
  Plugin plugin("libtracemalloc_plugin_stripped.so");
  ASSERT_TRUE(plugin.loaded()) << ::dlerror();
  const std::uint64_t address = plugin.call("plugin_callsite");
  const std::uint64_t inline_address = plugin.call("plugin_inline_callsite");
  std::vector<ModuleInfo> modules = current_modules();
  const ModuleInfo* module = module_named(modules, plugin.path());
  ASSERT_NE(module, nullptr);

  Symbolizer symbolizer(modules);
  const std::vector<Frame>& frames = symbolizer.resolve(address);
  ASSERT_EQ(frames.size(), 1u) << describe(frames);
  EXPECT_EQ(frames[0].filename, plugin.path());
  EXPECT_EQ(frames[0].lineno, 0);
  EXPECT_EQ(frames[0].function, "plugin_callsite");
  EXPECT_EQ(frames[0].module, plugin.path());
  EXPECT_EQ(frames[0].offset, address - 1 - module->bias);

  // Without DWARF the inlined call is invisible: one frame, the real function.
  const std::vector<Frame>& inlined = symbolizer.resolve(inline_address);
  ASSERT_EQ(inlined.size(), 1u) << describe(inlined);
  EXPECT_EQ(inlined[0].function, "plugin_inline_callsite");
  EXPECT_EQ(inlined[0].lineno, 0);
}

TEST_F(SymbolizerTest, MismatchedBuildIdIsNotTrusted) {
  Plugin plugin("libtracemalloc_plugin.so");
  ASSERT_TRUE(plugin.loaded()) << ::dlerror();
  const std::uint64_t address = plugin.call("plugin_callsite");
  std::vector<ModuleInfo> modules = current_modules();
  ModuleInfo* module = module_named(modules, plugin.path());
  ASSERT_NE(module, nullptr);
  ASSERT_FALSE(module->build_id.empty());
  module->build_id[0] = static_cast<char>(module->build_id[0] ^ 0x5a);

  Symbolizer symbolizer(modules);
  const std::vector<Frame>& frames = symbolizer.resolve(address);
  ASSERT_EQ(frames.size(), 1u) << describe(frames);
  EXPECT_EQ(frames[0].filename, plugin.path());
  EXPECT_EQ(frames[0].lineno, 0);
  EXPECT_EQ(frames[0].function, "");
  EXPECT_EQ(frames[0].module, plugin.path());
  EXPECT_EQ(frames[0].offset, address - 1 - module->bias);
}

TEST_F(SymbolizerTest, UnreadableModuleFilesFallBack) {
  // Random bytes, a file cut short after its ELF header and in the middle of its sections, a
  // directory and a missing file, all standing for a module that really is loaded.
  Plugin plugin("libtracemalloc_plugin.so");
  ASSERT_TRUE(plugin.loaded()) << ::dlerror();
  const std::uint64_t address = plugin.call("plugin_callsite");
  std::vector<ModuleInfo> modules = current_modules();
  const ModuleInfo* real = module_named(modules, plugin.path());
  ASSERT_NE(real, nullptr);

  const std::string dir = temp_dir();
  std::mt19937 rng(42);
  std::string garbage(8192, '\0');
  for (char& c : garbage) c = static_cast<char>(rng());
  batteries::testing::write_file(dir + "/garbage.so", garbage);
  const std::string elf = batteries::testing::read_file(plugin.path());
  ASSERT_GT(elf.size(), 4096u);
  batteries::testing::write_file(dir + "/header.so", elf.substr(0, 64));
  batteries::testing::write_file(dir + "/half.so", elf.substr(0, elf.size() / 2));
  std::string scrambled = elf;
  for (std::size_t i = scrambled.size() / 3; i < scrambled.size(); i += 7) {
    scrambled[i] = static_cast<char>(rng());
  }
  batteries::testing::write_file(dir + "/scrambled.so", scrambled);
  batteries::testing::make_dir(dir + "/directory.so");

  for (const std::string name :
       {"garbage.so", "header.so", "half.so", "scrambled.so", "directory.so", "missing.so"}) {
    SCOPED_TRACE(name);
    // The cut and scrambled copies may still give some symbols or lines; they must not crash.
    ModuleInfo m = *real;
    m.path = dir + "/" + name;
    m.build_id.clear();  // nothing to compare with: the file's own contents must be checked
    Symbolizer symbolizer({m});
    const std::vector<Frame>& frames = symbolizer.resolve(address);
    ASSERT_FALSE(frames.empty());
    for (const Frame& f : frames) {
      EXPECT_EQ(f.module, m.path);
      EXPECT_EQ(f.offset, address - 1 - m.bias);
    }
    if (name != "half.so" && name != "scrambled.so") {
      // Not a readable ELF file: nothing can be trusted.
      ASSERT_EQ(frames.size(), 1u) << describe(frames);
      EXPECT_EQ(frames[0].filename, m.path);
      EXPECT_EQ(frames[0].lineno, 0);
      EXPECT_EQ(frames[0].function, "");
    }
  }

  // A made-up module that stands for a garbage file, away from anything loaded.
  ModuleInfo fake{dir + "/garbage.so", 0x100000, 0x101000, 0x102000, "\x01\x02\x03"};
  Symbolizer symbolizer({fake});
  const std::vector<Frame>& frames = symbolizer.resolve(0x101235);
  ASSERT_EQ(frames.size(), 1u) << describe(frames);
  EXPECT_EQ(frames[0].filename, fake.path);
  EXPECT_EQ(frames[0].lineno, 0);
  EXPECT_EQ(frames[0].function, "");
  EXPECT_EQ(frames[0].module, fake.path);
  EXPECT_EQ(frames[0].offset, 0x1234u);
}

TEST_F(SymbolizerTest, AddressInNoModule) {
  Symbolizer symbolizer(current_modules());
  for (const std::uint64_t address :
       {std::uint64_t{0x11}, std::uint64_t{0}, std::uint64_t{0xfffffffffffff001}}) {
    SCOPED_TRACE(address);
    const std::vector<Frame>& frames = symbolizer.resolve(address);
    ASSERT_EQ(frames.size(), 1u) << describe(frames);
    EXPECT_EQ(frames[0].filename, "<unknown>");
    EXPECT_EQ(frames[0].lineno, 0);
    EXPECT_EQ(frames[0].function, "");
    EXPECT_EQ(frames[0].module, "");
    EXPECT_EQ(frames[0].offset, address == 0 ? 0 : address - 1);
  }
  // A module without a file (the vDSO) is named "<unknown>" too, with its offset.
  Symbolizer vdso({ModuleInfo{"", 0x7000, 0x8000, 0x9000, ""}});
  const std::vector<Frame>& frames = vdso.resolve(0x8011);
  ASSERT_EQ(frames.size(), 1u) << describe(frames);
  EXPECT_EQ(frames[0].filename, "<unknown>");
  EXPECT_EQ(frames[0].module, "");
  EXPECT_EQ(frames[0].offset, 0x1010u);
  // Just past the end of a module is outside it.
  EXPECT_EQ(vdso.resolve(0x9001)[0].offset, 0x9000u);
}

TEST_F(SymbolizerTest, ResolvesExecutableFunction) {
  const std::uint64_t address = symbolize_test_ns::call_site(7);
  std::vector<ModuleInfo> modules = current_modules();
  ASSERT_FALSE(modules.empty());
  const ModuleInfo& exe = modules[0];
  ASSERT_EQ(exe.path, self_exe());
  ASSERT_TRUE(exe.start <= address && address < exe.end);

  Symbolizer symbolizer(modules);
  const std::vector<Frame>& frames = symbolizer.resolve(address);
  ASSERT_EQ(frames.size(), 1u) << describe(frames);
  EXPECT_TRUE(ends_with(frames[0].filename, "tracemalloc/symbolize_test.cpp"))
      << describe(frames[0]);
  EXPECT_EQ(frames[0].lineno, mark_line(kTestSource, "test_call_site"));
  EXPECT_EQ(frames[0].function, "symbolize_test_ns::call_site(int)");
  EXPECT_EQ(frames[0].module, exe.path);
  EXPECT_EQ(frames[0].offset, address - 1 - exe.bias);
}

TEST_F(SymbolizerTest, CachesPerAddress) {
  Plugin plugin("libtracemalloc_plugin.so");
  ASSERT_TRUE(plugin.loaded()) << ::dlerror();
  const std::uint64_t address = plugin.call("plugin_inline_callsite");
  std::vector<ModuleInfo> modules = current_modules();
  Symbolizer symbolizer(modules);
  const std::vector<Frame>& first = symbolizer.resolve(address);
  ASSERT_EQ(first.size(), 2u) << describe(first);
  const auto expected = std::make_tuple(fields(first[0]), fields(first[1]));
  // Many other addresses, enough to make the cache grow, must not move or change the result.
  const ModuleInfo* module = module_named(modules, plugin.path());
  ASSERT_NE(module, nullptr);
  for (std::uint64_t a = module->start; a < module->end && a < module->start + 2000; ++a) {
    (void)symbolizer.resolve(a);
  }
  const std::vector<Frame>& second = symbolizer.resolve(address);
  EXPECT_EQ(&first, &second);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(std::make_tuple(fields(first[0]), fields(first[1])), expected);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(std::make_tuple(fields(second[0]), fields(second[1])), expected);

  // A fresh symbolizer finds the same frames.
  Symbolizer other(modules);
  const std::vector<Frame>& again = other.resolve(address);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(std::make_tuple(fields(again[0]), fields(again[1])), expected);
}

}  // namespace
