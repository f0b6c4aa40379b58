// Input of the thread_safety_check test (common/CMakeLists.txt), never part of a library.
//
// Compiled as it is, it must build: the guarded member is touched only under its mutex. With
// HW_THREAD_SAFETY_VIOLATION defined it adds an unguarded write to that member, which clang with
// the project's warnings must refuse. Both compiles run, so the test cannot pass because the file
// is broken in some unrelated way.
#include "common/base/mutex.h"

namespace {

class Counter {
 public:
  void Add() EXCLUDES(mu_) {
    hw::MutexLock lock(&mu_);
    AddLocked();
  }
  int Get() EXCLUDES(mu_) {
    hw::MutexLock lock(&mu_);
    return n_;
  }
#ifdef HW_THREAD_SAFETY_VIOLATION
  void AddUnguarded() { ++n_; }  // the deliberate violation
#endif

 private:
  void AddLocked() REQUIRES(mu_) { ++n_; }

  hw::Mutex mu_;
  int n_ GUARDED_BY(mu_) = 0;
};

}  // namespace

int main() {
  Counter c;
  c.Add();
  return c.Get() == 1 ? 0 : 1;
}
