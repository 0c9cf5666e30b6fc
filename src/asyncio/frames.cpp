// Coroutine frames: per-thread free lists by size class, so that a task costs no malloc.
//
// A frame of up to 512 bytes comes from the calling thread's free list for its size class
// (16-byte steps), or else from a 256 KiB chunk carved in order. A freed frame goes onto the
// freeing thread's list, whichever thread allocated it. When a thread ends, its lists go to a
// shared pool that the next thread short of frames of that size adopts. The memory is kept
// for reuse, never returned to the system. Under AddressSanitizer or ThreadSanitizer the
// frames use plain operator new, so that the sanitizers see every frame.
#include <batteries/asyncio/task.hpp>

#include <atomic>
#include <cstddef>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BATTERIES_PLAIN_FRAMES 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define BATTERIES_PLAIN_FRAMES 1
#endif
#endif

namespace batteries::asyncio::detail {

#ifdef BATTERIES_PLAIN_FRAMES

bool frames_are_pooled() noexcept { return false; }
void* allocate_frame(std::size_t size) { return ::operator new(size); }
void deallocate_frame(void* frame, std::size_t /*size*/) noexcept { ::operator delete(frame); }

#else

namespace {

constexpr std::size_t kGranule = 16;
constexpr std::size_t kClasses = 32;  // up to 512 bytes
constexpr std::size_t kChunk = std::size_t{256} * 1024;

struct Block {
  Block* next;
};

// The lists of threads that have ended, for the threads that go on: whole lists, kept as
// they are (no walk to their ends), each taken whole by a thread short of that size.
struct Orphans {
  std::mutex mutex;
  std::vector<Block*> lists[kClasses];
  std::atomic<bool> any{false};

  void give(std::size_t index, Block* head) noexcept {
    if (head == nullptr) return;
    const std::lock_guard lock(mutex);
    try {
      lists[index].push_back(head);
      any.store(true, std::memory_order_relaxed);
    } catch (...) {
      // Out of memory while a thread ends: these frames' memory is lost, nothing else.
    }
  }
  Block* take(std::size_t index) noexcept {
    const std::lock_guard lock(mutex);
    if (lists[index].empty()) return nullptr;
    Block* head = lists[index].back();
    lists[index].pop_back();
    return head;
  }
};

Orphans& orphans() noexcept {
  static Orphans* const instance = new Orphans;  // never destroyed: threads may end late
  return *instance;
}

struct Pool {
  Block* lists[kClasses] = {};
  char* cursor = nullptr;
  char* end = nullptr;
  bool ended = false;

  ~Pool() {
    for (std::size_t i = 0; i < kClasses; ++i) orphans().give(i, std::exchange(lists[i], nullptr));
    ended = true;
  }
};

thread_local Pool t_pool;

}  // namespace

bool frames_are_pooled() noexcept { return true; }

void* allocate_frame(std::size_t size) {
  const std::size_t cls = (size + kGranule - 1) / kGranule;
  if (cls == 0 || cls > kClasses) return ::operator new(size);
  Pool& pool = t_pool;
  const std::size_t index = cls - 1;
  if (Block* block = pool.lists[index]) {
    pool.lists[index] = block->next;
    return block;
  }
  Orphans& shared = orphans();
  if (shared.any.load(std::memory_order_relaxed)) {
    if (Block* block = shared.take(index)) {
      pool.lists[index] = block->next;
      return block;
    }
  }
  const std::size_t bytes = cls * kGranule;
  if (pool.cursor == nullptr || static_cast<std::size_t>(pool.end - pool.cursor) < bytes) {
    pool.cursor = static_cast<char*>(::operator new(kChunk));
    pool.end = pool.cursor + kChunk;
  }
  void* frame = pool.cursor;
  pool.cursor += bytes;
  return frame;
}

void deallocate_frame(void* frame, std::size_t size) noexcept {
  const std::size_t cls = (size + kGranule - 1) / kGranule;
  if (cls == 0 || cls > kClasses) {
    ::operator delete(frame);
    return;
  }
  auto* block = static_cast<Block*>(frame);
  Pool& pool = t_pool;
  if (pool.ended) {  // freed by a thread-local destructor after the pool's own
    block->next = nullptr;
    orphans().give(cls - 1, block);
    return;
  }
  block->next = pool.lists[cls - 1];
  pool.lists[cls - 1] = block;
}

#endif

}  // namespace batteries::asyncio::detail
