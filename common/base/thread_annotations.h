// Clang's thread-safety annotations (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html).
//
// With clang and -Wthread-safety (the ci-clang preset makes it an error) the compiler checks, per
// function, that a member marked GUARDED_BY(mu) is touched only with mu held, that a function
// marked REQUIRES(mu) is called only with mu held, and so on. The checks see only what these
// attributes state: they hold for members of the same object as the mutex, not for data guarded by
// another object's mutex, and not for "one thread writes, that thread may read without the lock"
// (say so in a comment at such a member). Other compilers ignore the attributes, so the macros
// expand to nothing there.
//
// The mutexes that carry the attributes are in common/base/mutex.h: std::mutex has none, so an
// annotation on a member it guards would check nothing.
#pragma once

#if defined(__clang__)
#define HW_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define HW_THREAD_ANNOTATION_(x)
#endif

// On a class: its objects are capabilities (mutexes), named `x` in the diagnostics.
#define CAPABILITY(x) HW_THREAD_ANNOTATION_(capability(x))
// On an RAII class: acquires in its constructor what it releases in its destructor.
#define SCOPED_CAPABILITY HW_THREAD_ANNOTATION_(scoped_lockable)

// On a data member: reads need `x` held (shared or exclusive), writes need it held exclusively.
#define GUARDED_BY(x) HW_THREAD_ANNOTATION_(guarded_by(x))
// On a pointer member: the same for the data it points to (the pointer itself is unguarded).
#define PT_GUARDED_BY(x) HW_THREAD_ANNOTATION_(pt_guarded_by(x))

// On mutex members: the order in which they must be taken.
#define ACQUIRED_BEFORE(...) HW_THREAD_ANNOTATION_(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) HW_THREAD_ANNOTATION_(acquired_after(__VA_ARGS__))

// On a function: the caller must hold the capabilities (exclusively, or at least shared).
#define REQUIRES(...) HW_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) HW_THREAD_ANNOTATION_(requires_shared_capability(__VA_ARGS__))

// On a function: it acquires / releases the capabilities (no argument: `this`).
#define ACQUIRE(...) HW_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) HW_THREAD_ANNOTATION_(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) HW_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) HW_THREAD_ANNOTATION_(release_shared_capability(__VA_ARGS__))
// Releases a capability held either way (a scoped lock's destructor).
#define RELEASE_GENERIC(...) HW_THREAD_ANNOTATION_(release_generic_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) HW_THREAD_ANNOTATION_(try_acquire_capability(__VA_ARGS__))

// On a function: the caller must not hold the capabilities (the function takes them itself).
#define EXCLUDES(...) HW_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))

// On a function: tells the analysis that the capability is held from here on (checked at run time
// by the function, if at all).
#define ASSERT_CAPABILITY(x) HW_THREAD_ANNOTATION_(assert_capability(x))
#define ASSERT_SHARED_CAPABILITY(x) HW_THREAD_ANNOTATION_(assert_shared_capability(x))

// On a function: returns the capability given (a getter for a private mutex).
#define RETURN_CAPABILITY(x) HW_THREAD_ANNOTATION_(lock_returned(x))

// The escape hatch: the function is not checked. Each use says why the analysis cannot follow.
#define NO_THREAD_SAFETY_ANALYSIS HW_THREAD_ANNOTATION_(no_thread_safety_analysis)
