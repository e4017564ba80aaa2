//! The engine: turns a [`crate::model::Network`] plus weights into activations.
//!
//! - [`forward`]: the forward pass over the graph (only what an edit made dirty), the
//!   memory guard;
//! - [`weights`]: weights drawn from the layers' Keras initializers with a seed;
//! - [`init`]: the initializers themselves;
//! - [`presets`]: hand-made filters (Sobel, Laplacian, Gaussian, Gabor) for convolutions.
//!
//! Each layer's own computation is its kind's ([`crate::layers`]) on the numeric
//! [`crate::kernels`]. Reading weights from files is [`crate::io::weights`]. No egui and
//! no files here; the app runs this on a worker thread.

pub mod backward;
pub mod forward;
pub mod init;
pub mod presets;
pub mod training;
pub mod weights;

pub use forward::{EngineError, LayerRun, LayerWeights, run, run_dirty, run_dirty_with, run_from};

/// Keeps freed activation memory in the process for the next forward pass.
///
/// glibc serves large allocations with fresh `mmap`s and returns them on free, so every
/// run page-faulted all of its activations again (measured: a third of a VGG block's
/// time was the kernel zeroing pages). Raising the mmap and trim thresholds keeps that
/// memory in the heap, where the next run reuses it (the heap keeps its peak size). Call once at start-up; elsewhere
/// (other allocators, other systems) this does nothing.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning parameters; it is called before
    // the engine allocates and has no memory-safety preconditions.
    unsafe {
        // No mmap for large blocks (its threshold cannot exceed 32 MiB, and one
        // 512×512×32 activation is 33 MiB), and no trimming of the heap's top.
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        // One arena: a worker thread's arena is a 64 MiB mmap'd heap that is unmapped
        // again when freed; the main heap is reused.
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    KEEPING_FREED_MEMORY.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Whether [`keep_freed_memory`] has been called.
static KEEPING_FREED_MEMORY: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Runs `f` — reading a model's weights — with large blocks served by their own `mmap`s
/// again while [`keep_freed_memory`] is in force: the weights then live outside the heap
/// that the forward passes reuse, and the reader's temporary buffers leave no free holes
/// in it. Measured with InceptionV3 (91 MiB of weights, 9 MiB of live outputs): peak RSS
/// of three runs 127 → 120 MiB; the heap after loading 102 → 4 MiB.
pub fn outside_the_heap<T>(f: impl FnOnce() -> T) -> T {
    let keeping = KEEPING_FREED_MEMORY.load(std::sync::atomic::Ordering::Relaxed);
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if keeping {
        // SAFETY: tuning parameters only (glibc's default mmap count and threshold).
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
            libc::mallopt(libc::M_MMAP_MAX, 65536);
        }
    }
    let out = f();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if keeping {
        // SAFETY: as in keep_freed_memory.
        unsafe {
            libc::mallopt(libc::M_MMAP_MAX, 0);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = keeping;
    out
}
