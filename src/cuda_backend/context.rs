//! One `Gpu` per device: the driver context, the stream every kernel runs on, the compiled
//! kernel modules, and the memory counters. Devices are opened on first use and live for the
//! rest of the process, so a `&'static Gpu` is the backend handed to the tensor layer.

use super::kernels::{self, Family};
use super::MemoryStats;
use crate::backend::Backend;
use crate::device::Device;
use crate::error::{Error, Result};
use cudarc::driver::{
    result, sys, CudaContext, CudaFunction, CudaModule, CudaStream, LaunchConfig,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

pub(crate) fn cu_err(e: result::DriverError) -> Error {
    Error::Runtime(format!("CUDA error: {e:?}"))
}

const NO_DRIVER: &str = "Found no NVIDIA driver on your system. Please check that you have an \
NVIDIA GPU and installed a driver from http://www.nvidia.com/Download/index.aspx";

/// The number of devices, or why there are none. Checks that the driver library exists
/// before cudarc touches it (cudarc panics on a missing library).
fn driver() -> std::result::Result<usize, String> {
    static DRIVER: OnceLock<std::result::Result<usize, String>> = OnceLock::new();
    DRIVER
        .get_or_init(|| {
            // SAFETY: only probes whether the library can be opened.
            if !unsafe { sys::is_culib_present() } {
                return Err(NO_DRIVER.into());
            }
            result::init().map_err(|e| format!("CUDA driver initialization failed: {e:?}"))?;
            let n = CudaContext::device_count().map_err(|e| format!("CUDA error: {e:?}"))?;
            Ok(n.max(0) as usize)
        })
        .clone()
}

pub fn is_available() -> bool {
    matches!(driver(), Ok(n) if n > 0)
}

pub fn device_count() -> usize {
    driver().unwrap_or(0)
}

/// Device memory pools are raw driver handles; the driver allows their use from any thread.
struct PoolHandle(sys::CUmemoryPool);
unsafe impl Send for PoolHandle {}
unsafe impl Sync for PoolHandle {}

pub(crate) struct Gpu {
    pub index: usize,
    pub ctx: Arc<CudaContext>,
    pub stream: Arc<CudaStream>,
    pub cc: (i32, i32),
    pub sm_count: u32,
    pub name: String,
    pub total_mem: usize,
    pool: PoolHandle,
    modules: Mutex<HashMap<Family, Arc<CudaModule>>>,
    funcs: Mutex<HashMap<(Family, String), CudaFunction>>,
    allocated: AtomicUsize,
    peak: AtomicUsize,
    pub(crate) blas: Mutex<Option<super::linalg::Blas>>,
    /// Device flags of queued kernels whose check waits for the next synchronisation, each
    /// with the error it stands for (see `defer_check`).
    deferred: Mutex<Vec<(crate::storage::Storage, Error)>>,
}

impl Gpu {
    fn open(index: usize) -> Result<Gpu> {
        let ctx = CudaContext::new(index).map_err(cu_err)?;
        // One stream per device and raw pointers: cudarc's per-buffer events are not needed.
        unsafe { ctx.disable_event_tracking() };
        let stream = ctx.new_stream().map_err(cu_err)?;
        let cc = ctx.compute_capability().map_err(cu_err)?;
        let sm_count = ctx
            .attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
            .map_err(cu_err)? as u32;
        let name = ctx.name().map_err(cu_err)?;
        let total_mem = ctx.total_mem().map_err(cu_err)?;
        let mut pool: sys::CUmemoryPool = std::ptr::null_mut();
        // SAFETY: the out-pointer is valid; the device handle comes from the context.
        unsafe {
            sys::cuDeviceGetDefaultMemPool(&mut pool, ctx.cu_device())
                .result()
                .map_err(cu_err)?;
            // Keep freed blocks cached in the pool instead of returning them at every sync.
            let mut keep = u64::MAX;
            result::mem_pool::set_attribute(
                pool,
                sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                &mut keep as *mut u64 as *mut _,
            )
            .map_err(cu_err)?;
        }
        Ok(Gpu {
            index,
            ctx,
            stream,
            cc,
            sm_count: sm_count.max(1),
            name,
            total_mem,
            pool: PoolHandle(pool),
            modules: Mutex::new(HashMap::new()),
            funcs: Mutex::new(HashMap::new()),
            allocated: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            blas: Mutex::new(None),
            deferred: Mutex::new(Vec::new()),
        })
    }

    pub fn device(&self) -> Device {
        Device::Cuda(self.index)
    }

    /// Makes this device's context current on the calling thread.
    pub fn bind(&self) -> Result<()> {
        self.ctx.bind_to_thread().map_err(cu_err)
    }

    pub fn cu_stream(&self) -> sys::CUstream {
        self.stream.cu_stream()
    }

    pub fn sync(&self) -> Result<()> {
        self.bind()?;
        self.stream.synchronize().map_err(cu_err)?;
        self.check_deferred()
    }

    /// Checks a kernel's one-word device `flag` at the next synchronisation instead of now
    /// (which would wait for the queue): for guards that only trip on an internal
    /// inconsistency, where the kernel has already skipped the bad element. A raised flag
    /// then fails that synchronisation with `err`, as a device-side assertion does.
    /// A program that never synchronises would collect flags without bound: past a few
    /// hundred they are checked now.
    pub fn defer_check(&self, flag: crate::storage::Storage, err: Error) -> Result<()> {
        let waiting = {
            let mut d = lock(&self.deferred);
            d.push((flag, err));
            d.len()
        };
        if waiting >= 256 {
            self.sync()?;
        }
        Ok(())
    }

    /// Reads the deferred flags (the stream is idle) and reports the first raised one.
    fn check_deferred(&self) -> Result<()> {
        let pending = std::mem::take(&mut *lock(&self.deferred));
        let mut first = None;
        for (flag, err) in pending {
            let mut v = [0u32];
            let p = super::launch::ptr(&flag)?;
            // SAFETY: `flag` holds one live 4-byte word; the stream has finished.
            unsafe { result::memcpy_dtoh_async(&mut v[..], p, self.cu_stream()) }
                .map_err(cu_err)?;
            self.stream.synchronize().map_err(cu_err)?;
            if v[0] != 0 && first.is_none() {
                first = Some(err);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Called after every kernel launch and library call: with `CUDA_LAUNCH_BLOCKING=1` (as
    /// in PyTorch) waits for the work, so errors surface at the op that caused them and host
    /// timings (the profiler's) include the device time.
    pub fn after_launch(&self) -> Result<()> {
        static BLOCKING: OnceLock<bool> = OnceLock::new();
        let blocking = *BLOCKING
            .get_or_init(|| std::env::var("CUDA_LAUNCH_BLOCKING").is_ok_and(|v| v.trim() == "1"));
        if blocking {
            self.stream.synchronize().map_err(cu_err)?;
        }
        Ok(())
    }

    /// `bytes` of device memory from the stream-ordered pool (0 bytes: a null pointer).
    pub fn alloc(&self, bytes: usize) -> Result<u64> {
        if bytes == 0 {
            return Ok(0);
        }
        self.bind()?;
        // SAFETY: the stream belongs to this context; all uses of the memory are on it.
        let first = unsafe { result::malloc_async(self.cu_stream(), bytes) };
        let ptr = match first {
            Ok(p) => p,
            Err(e) if e.0 == sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY => {
                // Return cached blocks to the driver and try once more.
                self.sync()?;
                unsafe { result::mem_pool::trim_to(self.pool.0, 0) }.map_err(cu_err)?;
                unsafe { result::malloc_async(self.cu_stream(), bytes) }
                    .map_err(|_| self.out_of_memory(bytes))?
            }
            Err(e) => return Err(cu_err(e)),
        };
        let now = self.allocated.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(now, Ordering::Relaxed);
        Ok(ptr)
    }

    /// Returns memory from `alloc` to the pool (stream-ordered: kernels queued before still
    /// see it).
    pub fn free(&self, ptr: u64, bytes: usize) {
        if ptr == 0 {
            return;
        }
        self.allocated.fetch_sub(bytes, Ordering::Relaxed);
        if self.bind().is_ok() {
            // SAFETY: `ptr` came from `malloc_async` on this stream and is freed once.
            let _ = unsafe { result::free_async(ptr, self.cu_stream()) };
        }
    }

    fn out_of_memory(&self, bytes: usize) -> Error {
        let gib = |b: usize| b as f64 / (1u64 << 30) as f64;
        let free = self.ctx.mem_get_info().map(|(f, _)| f).unwrap_or(0);
        Error::Runtime(format!(
            "CUDA out of memory. Tried to allocate {:.2} GiB. GPU {} has a total capacity of \
             {:.2} GiB of which {:.2} GiB is free. Of the allocated memory {:.2} GiB is \
             allocated by rtorch.",
            gib(bytes),
            self.index,
            gib(self.total_mem),
            gib(free),
            gib(self.allocated.load(Ordering::Relaxed)),
        ))
    }

    fn reserved(&self) -> usize {
        let mut v: u64 = 0;
        // SAFETY: the attribute is a u64 written through a valid pointer.
        let r = unsafe {
            result::mem_pool::get_attribute(
                self.pool.0,
                sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT,
                &mut v as *mut u64 as *mut _,
            )
        };
        if r.is_ok() {
            v as usize
        } else {
            0
        }
    }

    /// A kernel of `family`, compiling and loading the family on first use.
    pub fn func(&self, family: Family, name: &str) -> Result<CudaFunction> {
        let key = (family, name.to_string());
        if let Some(f) = lock(&self.funcs).get(&key) {
            return Ok(f.clone());
        }
        let module = self.module(family)?;
        let f = module.load_function(name).map_err(|e| {
            Error::Runtime(format!(
                "CUDA kernel {name} missing from the {} family: {e:?}",
                family.name()
            ))
        })?;
        lock(&self.funcs).insert(key, f.clone());
        Ok(f)
    }

    fn module(&self, family: Family) -> Result<Arc<CudaModule>> {
        let mut modules = lock(&self.modules);
        if let Some(m) = modules.get(&family) {
            return Ok(m.clone());
        }
        // First use of a family: build every family not loaded yet, in parallel.
        let missing: Vec<Family> = Family::ALL
            .into_iter()
            .filter(|f| !modules.contains_key(f))
            .collect();
        let mut wanted = None;
        for (f, image) in kernels::prepare(&missing, self.cc) {
            match image {
                Ok(image) => {
                    self.bind()?;
                    let m = self.ctx.load_module(image).map_err(cu_err)?;
                    if f == family {
                        wanted = Some(m.clone());
                    }
                    modules.insert(f, m);
                }
                Err(e) if f == family => return Err(e),
                Err(_) => {}
            }
        }
        wanted.ok_or_else(|| Error::Runtime(format!("CUDA {} kernels unavailable", family.name())))
    }

    /// A one-dimensional launch over `n` items: 256 threads per block, enough blocks to
    /// fill the device, each thread striding over the rest.
    pub fn grid(&self, n: usize) -> LaunchConfig {
        let blocks = n.div_ceil(256).clamp(1, self.sm_count as usize * 16);
        LaunchConfig {
            grid_dim: (blocks as u32, 1, 1),
            block_dim: (256, 1, 1),
            shared_mem_bytes: 0,
        }
    }

    /// One block of `threads` per item for `rows` items (capped; kernels stride over rows).
    pub fn rows(&self, rows: usize, threads: u32) -> LaunchConfig {
        let blocks = rows.clamp(1, 65535 * 8);
        LaunchConfig {
            grid_dim: (blocks as u32, 1, 1),
            block_dim: (threads, 1, 1),
            shared_mem_bytes: 0,
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The opened device `index`, opening it on first use.
pub(crate) fn gpu(index: usize) -> Result<&'static Gpu> {
    static GPUS: OnceLock<Vec<OnceLock<std::result::Result<&'static Gpu, String>>>> =
        OnceLock::new();
    let n = driver().map_err(Error::Runtime)?;
    if n == 0 {
        return Err(Error::Runtime("No CUDA GPUs are available".into()));
    }
    let slots = GPUS.get_or_init(|| (0..n).map(|_| OnceLock::new()).collect());
    let slot = slots
        .get(index)
        .ok_or_else(|| Error::Runtime("CUDA error: invalid device ordinal".into()))?;
    slot.get_or_init(|| {
        Gpu::open(index)
            .map(|g| &*Box::leak(Box::new(g)))
            .map_err(|e| e.to_string())
    })
    .clone()
    .map_err(Error::Runtime)
}

pub fn backend(index: usize) -> Result<&'static dyn Backend> {
    Ok(gpu(index)?)
}

pub fn device_name(index: usize) -> Result<String> {
    Ok(gpu(index)?.name.clone())
}

pub fn capability(index: usize) -> Result<(i32, i32)> {
    Ok(gpu(index)?.cc)
}

pub fn total_memory(index: usize) -> Result<usize> {
    Ok(gpu(index)?.total_mem)
}

pub fn multiprocessor_count(index: usize) -> Result<u32> {
    Ok(gpu(index)?.sm_count)
}

pub fn synchronize(index: usize) -> Result<()> {
    gpu(index)?.sync()
}

pub fn memory_stats(index: usize) -> Result<MemoryStats> {
    let g = gpu(index)?;
    Ok(MemoryStats {
        allocated: g.allocated.load(Ordering::Relaxed),
        peak: g.peak.load(Ordering::Relaxed),
        reserved: g.reserved(),
    })
}

pub fn reset_peak_memory(index: usize) -> Result<()> {
    let g = gpu(index)?;
    g.peak
        .store(g.allocated.load(Ordering::Relaxed), Ordering::Relaxed);
    Ok(())
}

/// Returns the cached blocks of every opened device to the driver.
pub fn empty_cache() -> Result<()> {
    if !is_available() {
        return Ok(());
    }
    for i in 0..device_count() {
        let g = gpu(i)?;
        g.sync()?;
        // SAFETY: the pool belongs to this device; trimming only releases unused memory.
        unsafe { result::mem_pool::trim_to(g.pool.0, 0) }.map_err(cu_err)?;
    }
    Ok(())
}

impl Backend for Gpu {
    fn device(&self) -> Device {
        Device::Cuda(self.index)
    }
}

/// A timing marker on a device's stream (`torch.cuda.Event`).
pub struct Event {
    gpu: &'static Gpu,
    event: cudarc::driver::CudaEvent,
}

impl Event {
    pub fn new(index: usize) -> Result<Event> {
        let gpu = gpu(index)?;
        gpu.bind()?;
        let event = gpu
            .ctx
            .new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT))
            .map_err(cu_err)?;
        Ok(Event { gpu, event })
    }
    pub fn record(&self) -> Result<()> {
        self.gpu.bind()?;
        self.event.record(&self.gpu.stream).map_err(cu_err)
    }
    pub fn synchronize(&self) -> Result<()> {
        self.gpu.bind()?;
        self.event.synchronize().map_err(cu_err)
    }
    pub fn query(&self) -> Result<bool> {
        self.gpu.bind()?;
        self.event.try_is_complete().map_err(cu_err)
    }
    pub fn elapsed_ms(&self, end: &Event) -> Result<f32> {
        self.gpu.bind()?;
        self.event.elapsed_ms(&end.event).map_err(cu_err)
    }
}
