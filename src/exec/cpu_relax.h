// CpuRelax: the spin-wait hint for busy-wait loops (private to src/exec). On x86 it is
// PAUSE, which eases the pipeline and the sibling hyperthread while spinning; elsewhere
// it yields the thread.
#ifndef EPOS_SRC_EXEC_CPU_RELAX_H_
#define EPOS_SRC_EXEC_CPU_RELAX_H_

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#else
#include <thread>
#endif

namespace epos::internal {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

}  // namespace epos::internal

#endif  // EPOS_SRC_EXEC_CPU_RELAX_H_
