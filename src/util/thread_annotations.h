#pragma once
// Clang's thread-safety annotations (-Wthread-safety), as leveldb and
// Abseil use them: GUARDED_BY says which mutex guards a member, REQUIRES
// that a function runs with it held, EXCLUDES that it must not be. GCC
// ignores them; the CI builds once with clang to check them (.ci/run).
// https://clang.llvm.org/docs/ThreadSafetyAnalysis.html

#if defined(__clang__)
#define VBLK_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define VBLK_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) VBLK_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY VBLK_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) VBLK_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) VBLK_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) VBLK_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) VBLK_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define REQUIRES(...) VBLK_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) VBLK_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) VBLK_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) VBLK_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) VBLK_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) VBLK_THREAD_ANNOTATION(assert_capability(x))
#define NO_THREAD_SAFETY_ANALYSIS VBLK_THREAD_ANNOTATION(no_thread_safety_analysis)
