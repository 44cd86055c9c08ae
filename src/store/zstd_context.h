// One zstd compression and one decompression context per thread, reused by every frame the store
// writes or reads (chunk columns: chunk_codec.cc; attempt logs: attempt_log.cc). Creating a
// context per call costs more than compressing a small frame.
#pragma once

#include <memory>

#include <zstd.h>

namespace inloop::store {

struct ZstdCCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct ZstdDCtxFree {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};

// This thread's contexts (never null unless zstd could not allocate one).
inline ZSTD_CCtx* CompressContext() {
  thread_local std::unique_ptr<ZSTD_CCtx, ZstdCCtxFree> cctx(ZSTD_createCCtx());
  return cctx.get();
}
inline ZSTD_DCtx* DecompressContext() {
  thread_local std::unique_ptr<ZSTD_DCtx, ZstdDCtxFree> dctx(ZSTD_createDCtx());
  return dctx.get();
}

}  // namespace inloop::store
