// Tour section: Python's exceptions, caught by their Python names.
#include <batteries/errors.hpp>

#include <fcntl.h>
#include <unistd.h>

#include "tour.hpp"

void tour::errors() {
  heading("errors: Python's exception hierarchy");
  // try: open('/no/such/file') / except FileNotFoundError as e: print(e)
  try {
    const int fd = ::open("/no/such/file", O_RDONLY);
    if (fd < 0) batteries::raise_errno("/no/such/file");
    ::close(fd);
  } catch (const batteries::FileNotFoundError& e) {
    fmt::print("except FileNotFoundError as e: print(e)  ->  {}\n", e.what());
    fmt::print("e.errno = {}, e.filename = {}, repr(e) = {}\n", *e.errno_(),
               batteries::py_repr(*e.filename()), e.repr());
  }
  // except LookupError catches KeyError; except OSError catches ConnectionResetError.
  try {
    throw batteries::KeyError("'missing'");
  } catch (const batteries::LookupError& e) {
    fmt::print("except LookupError caught a {}: {}\n", e.type_name(), e.what());
  }
  try {
    batteries::raise_os_error(ECONNRESET);
  } catch (const std::system_error& e) {  // an OSError is also a std::system_error
    fmt::print("catch (std::system_error&) caught: {} (code {})\n", e.what(), e.code().value());
  }
}
