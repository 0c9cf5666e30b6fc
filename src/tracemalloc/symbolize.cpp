// Return addresses to file:line:function through elfutils' libdwfl, inlined calls expanded.
//
// Each module gets its own Dwfl session, opened the first time an address falls in it: a
// process maps hundreds of libraries but a snapshot's stacks touch a few, and a file that
// cannot be read (missing, corrupt, replaced by another build) only spoils its own addresses.
//
// Frame::offset is the call site relative to the module's load bias: return_address - 1 - bias,
// the file address (the one `addr2line -e module` takes) of the last byte of the call
// instruction. For an address in no module the bias is 0, so offset is return_address - 1.

#include "symbolize.hpp"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <utility>

namespace batteries::tracemalloc::detail {
namespace {

// Modules are reported by hand (dwfl_report_elf), so find_elf is never asked for a main file;
// find_debuginfo looks for separate debug files (.gnu_debuglink, /usr/lib/debug/.build-id).
char* g_debuginfo_path = nullptr;
const Dwfl_Callbacks kCallbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &g_debuginfo_path,
};

struct DwflDeleter {
  void operator()(Dwfl* dwfl) const noexcept { dwfl_end(dwfl); }
};
using DwflPtr = std::unique_ptr<Dwfl, DwflDeleter>;

struct FreeDeleter {
  void operator()(void* p) const noexcept { std::free(p); }
};

// Demangles C++ names; others (C functions, which __cxa_demangle would take for type names:
// "i" is "int") are returned as they are.
std::string demangle(const char* name) {
  if (name == nullptr) return {};
  if (std::strncmp(name, "_Z", 2) != 0) return name;
  int status = 0;
  std::unique_ptr<char, FreeDeleter> out(abi::__cxa_demangle(name, nullptr, nullptr, &status));
  if (status == -1) throw std::bad_alloc();
  if (status != 0 || out == nullptr) return name;
  return out.get();
}

const char* string_attr(Dwarf_Die* die, unsigned int name) {
  Dwarf_Attribute attr;
  return dwarf_formstring(dwarf_attr_integrate(die, name, &attr));
}

// The full name of a function's DIE: the demangled linkage name, which qualifies C++ names
// with their namespaces, classes and parameters, else the plain name. For an inlined call or
// an out-of-line copy, dwarf_attr_integrate takes the name from the abstract origin.
std::string function_name(Dwarf_Die* die) {
  const char* linkage = string_attr(die, DW_AT_linkage_name);
  if (linkage == nullptr) linkage = string_attr(die, DW_AT_MIPS_linkage_name);
  if (linkage != nullptr) return demangle(linkage);
  const char* name = string_attr(die, DW_AT_name);
  return name != nullptr ? name : "";
}

// The ELF symbol (.symtab, else .dynsym) that covers a runtime address, demangled.
std::string symbol_name(Dwfl_Module* mod, Dwarf_Addr pc) {
  GElf_Off offset = 0;
  GElf_Sym sym;
  return demangle(dwfl_module_addrinfo(mod, pc, &offset, &sym, nullptr, nullptr, nullptr));
}

// A source path from the line table, made absolute with the CU's compilation directory where
// it is relative. libdw has already joined each file with its directory entry, and entry 0 is
// the compilation directory itself (DWARF 5), so a path under it is not prefixed twice. With
// a relative compilation directory (-fdebug-prefix-map=...=.) the path stays relative.
std::string source_path(const char* path, const char* comp_dir) {
  if (path == nullptr) return {};
  const std::string_view file = path;
  std::string_view dir = comp_dir != nullptr ? comp_dir : "";
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  if (file.starts_with('/') || dir.empty() ||
      (file.size() > dir.size() && file.starts_with(dir) && file[dir.size()] == '/')) {
    return std::string(file);
  }
  std::string full(dir);
  if (full.back() != '/') full += '/';
  full += file;
  return full;
}

// The address range of one compile unit, for modules whose CUs libdwfl cannot find itself.
struct CuRange {
  Dwarf_Addr low = 0;
  Dwarf_Addr high = 0;
  Dwarf_Die cu{};
};

struct Module {
  enum class State { unopened, usable, untrusted };
  ModuleInfo info;
  State state = State::unopened;
  DwflPtr dwfl;
  Dwfl_Module* mod = nullptr;
  bool scanned_cus = false;
  std::vector<CuRange> cu_ranges;  // sorted by low; filled on the first miss of addrdie
};

// The CU DIE covering `pc`, and the bias of the module's DWARF addresses. libdwfl looks CUs up
// in .debug_aranges only (elfutils before 0.191), which clang does not write unless asked
// (-gdwarf-aranges); then the CUs' own ranges (DW_AT_low_pc/high_pc, DW_AT_ranges) are read
// once and searched.
Dwarf_Die* find_cu(Module& m, Dwarf_Addr pc, Dwarf_Addr* bias) {
  if (Dwarf_Die* cu = dwfl_module_addrdie(m.mod, pc, bias); cu != nullptr) return cu;
  Dwarf* dwarf = dwfl_module_getdwarf(m.mod, bias);
  if (dwarf == nullptr) return nullptr;
  if (!m.scanned_cus) {
    m.scanned_cus = true;
    Dwarf_CU* unit = nullptr;
    Dwarf_Half version = 0;
    std::uint8_t unit_type = 0;
    Dwarf_Die cu;
    while (dwarf_get_units(dwarf, unit, &unit, &version, &unit_type, &cu, nullptr) == 0) {
      if (unit_type != DW_UT_compile && unit_type != DW_UT_partial && unit_type != DW_UT_skeleton) {
        continue;
      }
      Dwarf_Addr base = 0;
      Dwarf_Addr low = 0;
      Dwarf_Addr high = 0;
      for (std::ptrdiff_t offset = 0;
           (offset = dwarf_ranges(&cu, offset, &base, &low, &high)) > 0;) {
        if (low < high) m.cu_ranges.push_back(CuRange{low, high, cu});
      }
    }
    std::sort(m.cu_ranges.begin(), m.cu_ranges.end(),
              [](const CuRange& a, const CuRange& b) { return a.low < b.low; });
  }
  const Dwarf_Addr addr = pc - *bias;
  auto it = std::upper_bound(m.cu_ranges.begin(), m.cu_ranges.end(), addr,
                             [](Dwarf_Addr a, const CuRange& r) { return a < r.low; });
  if (it == m.cu_ranges.begin()) return nullptr;
  --it;
  return addr < it->high ? &it->cu : nullptr;
}

}  // namespace

struct Symbolizer::Impl {
  std::vector<Module> modules;  // sorted by start
  std::unordered_map<std::uint64_t, std::vector<Frame>> cache;

  Module* find(std::uint64_t pc);
  static void open(Module& m);
  std::vector<Frame> lookup(std::uint64_t return_address);
  static std::vector<Frame> dwarf_frames(Module& m, std::uint64_t pc, const Frame& base);
};

Module* Symbolizer::Impl::find(std::uint64_t pc) {
  auto it = std::upper_bound(modules.begin(), modules.end(), pc,
                             [](std::uint64_t a, const Module& m) { return a < m.info.start; });
  if (it == modules.begin()) return nullptr;
  --it;
  return pc < it->info.end ? &*it : nullptr;
}

// Reports one module to a Dwfl of its own. The file is trusted only if it is a readable ELF
// file whose build-id, when both it and the module have one, is the module's.
void Symbolizer::Impl::open(Module& m) {
  m.state = Module::State::untrusted;
  const std::string& path = m.info.path;
  struct stat st {};
  // Only regular files: opening a FIFO or a device could block or have effects.
  if (path.empty() || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
  DwflPtr dwfl(dwfl_begin(&kCallbacks));
  if (dwfl == nullptr) return;
  dwfl_report_begin(dwfl.get());
  // ET_DYN (PIE, shared libraries) with add_p_vaddr: the module's bias is `base`, the load
  // bias. ET_EXEC ignores `base`: its bias is 0, which is what the dynamic linker reports.
  Dwfl_Module* mod = dwfl_report_elf(dwfl.get(), path.c_str(), path.c_str(), -1, m.info.bias, true);
  if (dwfl_report_end(dwfl.get(), nullptr, nullptr) != 0 || mod == nullptr) return;
  if (!m.info.build_id.empty()) {
    const unsigned char* bits = nullptr;
    GElf_Addr vaddr = 0;
    const int n = dwfl_module_build_id(mod, &bits, &vaddr);
    if (n > 0 && std::string_view(reinterpret_cast<const char*>(bits),
                                  static_cast<std::size_t>(n)) != m.info.build_id) {
      return;  // another build of the file than the one that ran
    }
  }
  // The file's bias must be the module's: an ET_EXEC file has bias 0 wherever the module was
  // loaded, so a non-PIE file in place of the PIE that ran is not trusted.
  Dwarf_Addr bias = 0;
  if (dwfl_module_getelf(mod, &bias) == nullptr || bias != m.info.bias) return;
  m.dwfl = std::move(dwfl);
  m.mod = mod;
  m.state = Module::State::usable;
}

// The frames the DWARF gives for `pc`, innermost inlined call first; empty when it has no
// information for that address. Expands inline chains as `eu-addr2line -i` does: the physical
// scopes of the innermost DIE are walked outwards, each inlined_subroutine giving one frame
// and moving the position to its DW_AT_call_file:DW_AT_call_line, up to the subprogram.
std::vector<Frame> Symbolizer::Impl::dwarf_frames(Module& m, std::uint64_t pc, const Frame& base) {
  std::vector<Frame> frames;
  Dwarf_Addr bias = 0;
  Dwarf_Die* cudie = find_cu(m, pc, &bias);
  if (cudie == nullptr) return frames;
  const Dwarf_Addr addr = pc - bias;
  const char* comp_dir = string_attr(cudie, DW_AT_comp_dir);

  Frame at = base;
  if (Dwarf_Line* line = dwarf_getsrc_die(cudie, addr); line != nullptr) {
    int lineno = 0;
    const char* src = dwarf_linesrc(line, nullptr, nullptr);
    if (src != nullptr && dwarf_lineno(line, &lineno) == 0) {
      at.filename = source_path(src, comp_dir);
      at.lineno = std::max(lineno, 0);
    }
  }

  Dwarf_Die* scopes_raw = nullptr;
  const int nscopes = dwarf_getscopes(cudie, addr, &scopes_raw);
  std::unique_ptr<Dwarf_Die, FreeDeleter> scopes(scopes_raw);
  Dwarf_Die* chain_raw = nullptr;
  const int nchain = nscopes > 0 ? dwarf_getscopes_die(&scopes.get()[0], &chain_raw) : 0;
  std::unique_ptr<Dwarf_Die, FreeDeleter> chain(chain_raw);

  Dwarf_Files* files = nullptr;
  bool have_files = false;
  for (int i = 0; i < nchain; ++i) {
    Dwarf_Die* die = &chain.get()[i];
    const int tag = dwarf_tag(die);
    if (tag == DW_TAG_subprogram || tag == DW_TAG_entry_point) {
      at.function = function_name(die);
      if (at.function.empty()) at.function = symbol_name(m.mod, pc);
      frames.push_back(std::move(at));
      return frames;
    }
    if (tag != DW_TAG_inlined_subroutine) continue;  // lexical blocks and the like
    Frame caller = base;
    Dwarf_Attribute attr;
    Dwarf_Word file_index = 0;
    Dwarf_Word call_line = 0;
    if (!have_files) have_files = dwarf_getsrcfiles(cudie, &files, nullptr) == 0;
    if (have_files && dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &attr), &file_index) == 0) {
      if (const char* src = dwarf_filesrc(files, file_index, nullptr, nullptr); src != nullptr) {
        caller.filename = source_path(src, comp_dir);
      }
    }
    if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &attr), &call_line) == 0 &&
        call_line <= 0x7fffffff) {
      caller.lineno = static_cast<int>(call_line);
    }
    at.function = function_name(die);
    frames.push_back(std::move(at));
    at = std::move(caller);
  }
  // No enclosing subprogram (an address between functions, or a broken DIE tree): what is
  // left is the outermost position known, named by the symbol table.
  at.function = symbol_name(m.mod, pc);
  frames.push_back(std::move(at));
  return frames;
}

std::vector<Frame> Symbolizer::Impl::lookup(std::uint64_t return_address) {
  // The call instruction ends at the return address; its last byte is inside the call's line
  // and inlining scopes, while the return address may already be the next line or function.
  const std::uint64_t pc = return_address == 0 ? 0 : return_address - 1;
  Frame base;
  Module* m = find(pc);
  if (m == nullptr) {
    base.filename = "<unknown>";
    base.offset = pc;
    return {std::move(base)};
  }
  base.module = m->info.path;
  base.filename = m->info.path.empty() ? "<unknown>" : m->info.path;
  base.offset = pc - m->info.bias;
  if (m->state == Module::State::unopened) open(*m);
  if (m->state != Module::State::usable) return {std::move(base)};
  std::vector<Frame> frames = dwarf_frames(*m, pc, base);
  if (frames.empty()) {
    base.function = symbol_name(m->mod, pc);
    frames.push_back(std::move(base));
  }
  return frames;
}

Symbolizer::Symbolizer(const std::vector<ModuleInfo>& modules) : m_impl(std::make_unique<Impl>()) {
  m_impl->modules.reserve(modules.size());
  for (const ModuleInfo& info : modules) {
    if (info.start >= info.end) continue;
    Module m;
    m.info = info;
    m_impl->modules.push_back(std::move(m));
  }
  std::stable_sort(m_impl->modules.begin(), m_impl->modules.end(),
                   [](const Module& a, const Module& b) { return a.info.start < b.info.start; });
}

Symbolizer::~Symbolizer() = default;

const std::vector<Frame>& Symbolizer::resolve(std::uint64_t return_address) {
  auto [it, inserted] = m_impl->cache.try_emplace(return_address);
  if (inserted) {
    try {
      it->second = m_impl->lookup(return_address);
    } catch (...) {
      m_impl->cache.erase(it);
      throw;
    }
  }
  return it->second;
}

}  // namespace batteries::tracemalloc::detail
