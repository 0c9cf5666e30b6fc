// Forks: the parent and the child each leave their own leak; each writes its own snapshot.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace {

void keep(void* p) { asm volatile("" : : "g"(p) : "memory"); }

[[gnu::noinline]] void* before_fork() {
  return std::malloc(1111);  // MARK: before_fork
}

[[gnu::noinline]] void* in_child() {
  return std::malloc(2222);  // MARK: in_child
}

[[gnu::noinline]] void* after_fork() {
  return std::malloc(3333);  // MARK: after_fork
}

}  // namespace

int main() {
  keep(before_fork());
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    return 1;
  }
  if (pid == 0) {
    keep(in_child());
    std::exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  keep(after_fork());
  std::printf("child %d\n", int(pid));
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
