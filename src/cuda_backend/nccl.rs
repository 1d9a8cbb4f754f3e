//! NCCL collectives on CUDA memory (the `nccl` backend of `rtorch.distributed`).
//!
//! The types come from cudarc's `nccl` bindings; the library itself is opened here by its
//! soname `libnccl.so.2` (the file the `nvidia-nccl-cu13` wheel and the distribution packages
//! ship, which cudarc's loader does not look for). A missing library is an error returned
//! by every entry point, never a panic. Operations are enqueued on the device's stream, the
//! one every kernel runs on, so they are ordered with the kernels that produce and consume
//! their buffers without any event.

use super::context::{cu_err, gpu, lock, Gpu};
use super::launch::buf;
use super::NcclOp;
use crate::backend::Strided;
use crate::dtype::DType;
use crate::error::{Error, Result};
use cudarc::driver::sys as cu;
use cudarc::nccl::sys::{ncclComm_t, ncclDataType_t, ncclRedOp_t, ncclUniqueId};
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

type Stream = cudarc::nccl::sys::cudaStream_t;
// Results are read as plain integers: a newer library may return codes the bindings lack.
type Res = u32;
const SUCCESS: Res = 0;
const IN_PROGRESS: Res = 7;

/// The entry points used, resolved once from the library.
struct Lib {
    _lib: libloading::Library,
    get_version: unsafe extern "C" fn(*mut c_int) -> Res,
    get_unique_id: unsafe extern "C" fn(*mut ncclUniqueId) -> Res,
    init_rank: unsafe extern "C" fn(*mut ncclComm_t, c_int, ncclUniqueId, c_int) -> Res,
    destroy: unsafe extern "C" fn(ncclComm_t) -> Res,
    abort: unsafe extern "C" fn(ncclComm_t) -> Res,
    async_error: unsafe extern "C" fn(ncclComm_t, *mut Res) -> Res,
    error_string: unsafe extern "C" fn(Res) -> *const c_char,
    last_error: unsafe extern "C" fn(ncclComm_t) -> *const c_char,
    #[allow(clippy::type_complexity)]
    all_reduce: unsafe extern "C" fn(
        *const c_void,
        *mut c_void,
        usize,
        ncclDataType_t,
        ncclRedOp_t,
        ncclComm_t,
        Stream,
    ) -> Res,
    #[allow(clippy::type_complexity)]
    broadcast: unsafe extern "C" fn(
        *const c_void,
        *mut c_void,
        usize,
        ncclDataType_t,
        c_int,
        ncclComm_t,
        Stream,
    ) -> Res,
    #[allow(clippy::type_complexity)]
    reduce: unsafe extern "C" fn(
        *const c_void,
        *mut c_void,
        usize,
        ncclDataType_t,
        ncclRedOp_t,
        c_int,
        ncclComm_t,
        Stream,
    ) -> Res,
    #[allow(clippy::type_complexity)]
    all_gather: unsafe extern "C" fn(
        *const c_void,
        *mut c_void,
        usize,
        ncclDataType_t,
        ncclComm_t,
        Stream,
    ) -> Res,
    #[allow(clippy::type_complexity)]
    reduce_scatter: unsafe extern "C" fn(
        *const c_void,
        *mut c_void,
        usize,
        ncclDataType_t,
        ncclRedOp_t,
        ncclComm_t,
        Stream,
    ) -> Res,
    send: unsafe extern "C" fn(
        *const c_void,
        usize,
        ncclDataType_t,
        c_int,
        ncclComm_t,
        Stream,
    ) -> Res,
    recv:
        unsafe extern "C" fn(*mut c_void, usize, ncclDataType_t, c_int, ncclComm_t, Stream) -> Res,
    group_start: unsafe extern "C" fn() -> Res,
    group_end: unsafe extern "C" fn() -> Res,
}

const NAMES: [&str; 2] = ["libnccl.so.2", "libnccl.so"];

fn open() -> std::result::Result<Lib, String> {
    let mut failures = Vec::new();
    for name in NAMES {
        // SAFETY: loading NCCL runs only its own initialisers.
        match unsafe { libloading::Library::new(name) } {
            Ok(lib) => return resolve(lib),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    Err(format!(
        "NCCL library not found ({}); install it with pip install nvidia-nccl-cu13 \
         (part of pip install 'rtorch[cuda]')",
        failures.join("; ")
    ))
}

fn resolve(lib: libloading::Library) -> std::result::Result<Lib, String> {
    macro_rules! sym {
        ($name:literal) => {
            // SAFETY: the signature is the one nccl.h declares for this symbol.
            *unsafe { lib.get($name) }.map_err(|e| format!("libnccl lacks {}: {e}", $name))?
        };
    }
    Ok(Lib {
        get_version: sym!("ncclGetVersion"),
        get_unique_id: sym!("ncclGetUniqueId"),
        init_rank: sym!("ncclCommInitRank"),
        destroy: sym!("ncclCommDestroy"),
        abort: sym!("ncclCommAbort"),
        async_error: sym!("ncclCommGetAsyncError"),
        error_string: sym!("ncclGetErrorString"),
        last_error: sym!("ncclGetLastError"),
        all_reduce: sym!("ncclAllReduce"),
        broadcast: sym!("ncclBroadcast"),
        reduce: sym!("ncclReduce"),
        all_gather: sym!("ncclAllGather"),
        reduce_scatter: sym!("ncclReduceScatter"),
        send: sym!("ncclSend"),
        recv: sym!("ncclRecv"),
        group_start: sym!("ncclGroupStart"),
        group_end: sym!("ncclGroupEnd"),
        _lib: lib,
    })
}

fn lib() -> Result<&'static Lib> {
    static LIB: OnceLock<std::result::Result<Lib, String>> = OnceLock::new();
    LIB.get_or_init(open)
        .as_ref()
        .map_err(|e| Error::Runtime(e.clone()))
}

/// Whether the NCCL library can be opened.
pub fn nccl_available() -> bool {
    lib().is_ok()
}

/// The library's version as `(major, minor, patch)`.
pub fn nccl_version() -> Result<(i32, i32, i32)> {
    let l = lib()?;
    let mut v: c_int = 0;
    // SAFETY: the out-pointer is valid.
    check(l, unsafe { (l.get_version)(&mut v) }, "get_version", None)?;
    // NCCL >= 2.9 encodes major*10000 + minor*100 + patch.
    Ok((v / 10000, (v / 100) % 100, v % 100))
}

fn cstr(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: NCCL returns NUL-terminated static or per-communicator strings.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn check(l: &Lib, r: Res, op: &str, comm: Option<ncclComm_t>) -> Result<()> {
    if r == SUCCESS || r == IN_PROGRESS {
        return Ok(());
    }
    // SAFETY: both functions accept any code / a live communicator (or null).
    let what = cstr(unsafe { (l.error_string)(r) });
    let last = cstr(unsafe { (l.last_error)(comm.unwrap_or(std::ptr::null_mut())) });
    let detail = if last.is_empty() {
        String::new()
    } else {
        format!(" Last error: {last}")
    };
    Err(Error::Runtime(format!(
        "NCCL error in {op}: {what} (code {r}; run with NCCL_DEBUG=INFO for details).{detail}"
    )))
}

/// A fresh unique id (128 bytes): made by one rank and handed to all of them before
/// `NcclComm::new`.
pub fn nccl_unique_id() -> Result<Vec<u8>> {
    let l = lib()?;
    let mut id = ncclUniqueId { internal: [0; 128] };
    // SAFETY: the out-pointer is valid.
    check(
        l,
        unsafe { (l.get_unique_id)(&mut id) },
        "get_unique_id",
        None,
    )?;
    Ok(id.internal.iter().map(|&c| c as u8).collect())
}

/// The element type NCCL moves for `dtype` (bool as bytes), or PyTorch's TypeError.
fn data_type(dtype: DType, op: &str) -> Result<ncclDataType_t> {
    use ncclDataType_t as T;
    Ok(match dtype {
        DType::F16 => T::ncclFloat16,
        DType::BF16 => T::ncclBfloat16,
        DType::F32 => T::ncclFloat32,
        DType::F64 => T::ncclFloat64,
        DType::I8 => T::ncclInt8,
        DType::U8 | DType::Bool => T::ncclUint8,
        DType::I32 => T::ncclInt32,
        DType::I64 => T::ncclInt64,
        DType::I16 => {
            return Err(Error::Type(format!(
                "{op}: Input tensor data type is not supported for NCCL process group: {}",
                dtype.name()
            )))
        }
    })
}

/// NCCL's reduction for `op` on `dtype`; on bool (moved as bytes) SUM is a logical or and
/// PRODUCT a logical and, as in PyTorch.
fn red_op(op: NcclOp, dtype: DType, name: &str) -> Result<ncclRedOp_t> {
    use ncclRedOp_t as R;
    if dtype == DType::Bool {
        return match op {
            NcclOp::Sum | NcclOp::Max => Ok(R::ncclMax),
            NcclOp::Product | NcclOp::Min => Ok(R::ncclMin),
            NcclOp::Avg => Err(Error::Type(format!(
                "{name}: Cannot use ReduceOp.AVG with boolean inputs"
            ))),
        };
    }
    Ok(match op {
        NcclOp::Sum => R::ncclSum,
        NcclOp::Product => R::ncclProd,
        NcclOp::Min => R::ncclMin,
        NcclOp::Max => R::ncclMax,
        NcclOp::Avg => R::ncclAvg,
    })
}

struct Handle(ncclComm_t);
// SAFETY: a communicator may be used from any thread; the mutex serialises the calls.
unsafe impl Send for Handle {}

/// One rank's communicator on one device.
pub struct NcclComm {
    handle: Mutex<Option<Handle>>,
    gpu: &'static Gpu,
    rank: usize,
    world: usize,
}

/// A contiguous device buffer checked for one operation: address, elements, dtype.
struct Span {
    ptr: u64,
    len: usize,
    dtype: DType,
}

impl NcclComm {
    /// Joins the communicator `id` as `rank` of `world` on device `device`. Blocks until every
    /// rank has joined (call it without the GIL).
    pub fn new(id: &[u8], rank: usize, world: usize, device: usize) -> Result<NcclComm> {
        if id.len() != 128 {
            return Err(Error::Value(format!(
                "NCCL unique id must be 128 bytes, got {}",
                id.len()
            )));
        }
        if world == 0 || rank >= world || world > c_int::MAX as usize {
            return Err(Error::Value(format!(
                "NCCL communicator: rank {rank} is not within a world of {world} ranks"
            )));
        }
        let g = gpu(device)?;
        let l = lib()?;
        let mut uid = ncclUniqueId { internal: [0; 128] };
        for (d, &s) in uid.internal.iter_mut().zip(id) {
            *d = s as c_char;
        }
        // NCCL takes the device from the calling thread's current context.
        g.bind()?;
        let mut comm: ncclComm_t = std::ptr::null_mut();
        // SAFETY: the out-pointer is valid; the id is passed by value.
        let r = unsafe { (l.init_rank)(&mut comm, world as c_int, uid, rank as c_int) };
        check(l, r, "comm_init_rank", None)?;
        if comm.is_null() {
            return Err(Error::Runtime(
                "NCCL error in comm_init_rank: no communicator returned".into(),
            ));
        }
        Ok(NcclComm {
            handle: Mutex::new(Some(Handle(comm))),
            gpu: g,
            rank,
            world,
        })
    }

    pub fn rank(&self) -> usize {
        self.rank
    }
    pub fn size(&self) -> usize {
        self.world
    }
    pub fn device(&self) -> usize {
        self.gpu.index
    }

    /// Runs `f` with the live communicator, the library and the stream, the device current.
    fn with(&self, op: &str, f: impl FnOnce(&Lib, ncclComm_t, Stream) -> Res) -> Result<()> {
        let l = lib()?;
        let guard = lock(&self.handle);
        let comm = guard.as_ref().map(|h| h.0).ok_or_else(|| {
            Error::Runtime(format!(
                "{op}: the NCCL communicator was destroyed or aborted"
            ))
        })?;
        self.gpu.bind()?;
        let stream = self.gpu.cu_stream() as Stream;
        check(l, f(l, comm, stream), op, Some(comm))
    }

    /// The device memory of contiguous `t` on this communicator's device.
    fn span(&self, t: &Strided<'_>, op: &str) -> Result<Span> {
        let dev = t.storage.device();
        if dev != self.gpu.device() {
            return Err(Error::Runtime(format!(
                "{op}: tensor on {dev}, but this NCCL communicator uses {}",
                self.gpu.device()
            )));
        }
        if !t.layout.is_contiguous() {
            return Err(Error::Value(format!(
                "{op}: Tensors must be contiguous (shape {:?}, strides {:?})",
                t.layout.shape, t.layout.strides
            )));
        }
        let len = t.layout.numel();
        let end = t.layout.offset.checked_add(len);
        if end.is_none_or(|e| e > t.storage.len()) {
            return Err(Error::Runtime(format!(
                "{op}: view of {len} elements at offset {} exceeds its storage of {}",
                t.layout.offset,
                t.storage.len()
            )));
        }
        let base = buf(t.storage)?.ptr();
        let dtype = t.storage.dtype();
        Ok(Span {
            ptr: base + (t.layout.offset * dtype.size()) as u64,
            len,
            dtype,
        })
    }

    /// In-place reduction of `t` over all ranks.
    pub fn all_reduce(&self, t: Strided<'_>, op: NcclOp) -> Result<()> {
        let name = "all_reduce";
        let s = self.span(&t, name)?;
        let (dt, rop) = (data_type(s.dtype, name)?, red_op(op, s.dtype, name)?);
        // SAFETY: the buffer holds `len` elements on this device; in place is allowed.
        self.with(name, |l, c, st| unsafe {
            (l.all_reduce)(s.ptr as _, s.ptr as _, s.len, dt, rop, c, st)
        })?;
        t.storage.bump_version();
        Ok(())
    }

    /// Copies `t` of rank `root` into `t` on every rank.
    pub fn broadcast(&self, t: Strided<'_>, root: usize) -> Result<()> {
        let name = "broadcast";
        self.check_peer(root, name)?;
        let s = self.span(&t, name)?;
        let dt = data_type(s.dtype, name)?;
        // SAFETY: as above.
        self.with(name, |l, c, st| unsafe {
            (l.broadcast)(s.ptr as _, s.ptr as _, s.len, dt, root as c_int, c, st)
        })?;
        t.storage.bump_version();
        Ok(())
    }

    /// Reduces `t` over all ranks into `t` on rank `root`.
    pub fn reduce(&self, t: Strided<'_>, root: usize, op: NcclOp) -> Result<()> {
        let name = "reduce";
        self.check_peer(root, name)?;
        let s = self.span(&t, name)?;
        let (dt, rop) = (data_type(s.dtype, name)?, red_op(op, s.dtype, name)?);
        // SAFETY: as above (the receive buffer is read only on the root).
        self.with(name, |l, c, st| unsafe {
            (l.reduce)(s.ptr as _, s.ptr as _, s.len, dt, rop, root as c_int, c, st)
        })?;
        if self.rank == root {
            t.storage.bump_version();
        }
        Ok(())
    }

    /// Concatenates every rank's `input` (rank order) into the flat `output`.
    pub fn all_gather(&self, output: Strided<'_>, input: Strided<'_>) -> Result<()> {
        let name = "all_gather";
        let (o, i) = (self.span(&output, name)?, self.span(&input, name)?);
        self.same_dtype(&o, &i, name)?;
        if Some(o.len) != i.len.checked_mul(self.world) {
            return Err(Error::Value(format!(
                "{name}: output has {} elements, expected world_size ({}) times the input's {}",
                o.len, self.world, i.len
            )));
        }
        let dt = data_type(i.dtype, name)?;
        // SAFETY: sizes checked above; both buffers on this device.
        self.with(name, |l, c, st| unsafe {
            (l.all_gather)(i.ptr as _, o.ptr as _, i.len, dt, c, st)
        })?;
        output.storage.bump_version();
        Ok(())
    }

    /// Reduces `input` over all ranks and leaves chunk `rank` of the result in `output`.
    pub fn reduce_scatter(
        &self,
        output: Strided<'_>,
        input: Strided<'_>,
        op: NcclOp,
    ) -> Result<()> {
        let name = "reduce_scatter";
        let (o, i) = (self.span(&output, name)?, self.span(&input, name)?);
        self.same_dtype(&o, &i, name)?;
        if Some(i.len) != o.len.checked_mul(self.world) {
            return Err(Error::Value(format!(
                "{name}: input has {} elements, expected world_size ({}) times the output's {}",
                i.len, self.world, o.len
            )));
        }
        let (dt, rop) = (data_type(o.dtype, name)?, red_op(op, o.dtype, name)?);
        // SAFETY: sizes checked above; both buffers on this device.
        self.with(name, |l, c, st| unsafe {
            (l.reduce_scatter)(i.ptr as _, o.ptr as _, o.len, dt, rop, c, st)
        })?;
        output.storage.bump_version();
        Ok(())
    }

    /// Sends `t` to rank `peer` (completes when the peer receives it).
    pub fn send(&self, t: Strided<'_>, peer: usize) -> Result<()> {
        let name = "send";
        self.check_peer(peer, name)?;
        let s = self.span(&t, name)?;
        let dt = data_type(s.dtype, name)?;
        // SAFETY: as above.
        self.with(name, |l, c, st| unsafe {
            (l.send)(s.ptr as _, s.len, dt, peer as c_int, c, st)
        })
    }

    /// Receives into `t` from rank `peer`.
    pub fn recv(&self, t: Strided<'_>, peer: usize) -> Result<()> {
        let name = "recv";
        self.check_peer(peer, name)?;
        let s = self.span(&t, name)?;
        let dt = data_type(s.dtype, name)?;
        // SAFETY: as above.
        self.with(name, |l, c, st| unsafe {
            (l.recv)(s.ptr as _, s.len, dt, peer as c_int, c, st)
        })?;
        t.storage.bump_version();
        Ok(())
    }

    fn check_peer(&self, peer: usize, op: &str) -> Result<()> {
        if peer >= self.world {
            return Err(Error::Value(format!(
                "{op}: rank {peer} is not within the communicator's {} ranks",
                self.world
            )));
        }
        if (op == "send" || op == "recv") && peer == self.rank {
            return Err(Error::Value(format!(
                "{op}: rank {peer} is this rank; sending to oneself is not supported"
            )));
        }
        Ok(())
    }

    fn same_dtype(&self, a: &Span, b: &Span, op: &str) -> Result<()> {
        if a.dtype != b.dtype {
            return Err(Error::Type(format!(
                "{op}: output tensor must have the same type as input tensor ({} vs {})",
                a.dtype.name(),
                b.dtype.name()
            )));
        }
        Ok(())
    }

    /// Whether everything enqueued on the device's stream so far has finished; an error
    /// when the communicator reported an asynchronous failure.
    pub fn is_completed(&self) -> Result<bool> {
        self.async_error("is_completed")?;
        self.gpu.bind()?;
        // SAFETY: the stream belongs to the bound context.
        match unsafe { cu::cuStreamQuery(self.gpu.cu_stream()) } {
            cu::CUresult::CUDA_SUCCESS => Ok(true),
            cu::CUresult::CUDA_ERROR_NOT_READY => Ok(false),
            e => Err(cu_err(cudarc::driver::result::DriverError(e))),
        }
    }

    /// Waits (polling) until the operations enqueued so far have finished. Past `timeout`, or
    /// on an asynchronous NCCL error (a peer died), the communicator is aborted so that its
    /// kernels stop, and the error names `what`.
    pub fn wait(&self, timeout: Duration, what: &str) -> Result<()> {
        let start = Instant::now();
        loop {
            match self.is_completed() {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => {
                    self.abort();
                    return Err(e);
                }
            }
            let waited = start.elapsed();
            if waited > timeout {
                self.abort();
                return Err(Error::Runtime(format!(
                    "{what}: NCCL operation timed out after {:.1} s waiting for the other \
                     ranks (a rank died, hung, or did not call the same collective); the \
                     communicator was aborted",
                    timeout.as_secs_f64()
                )));
            }
            // Spin briefly (collectives usually finish within microseconds), then back off.
            if waited > Duration::from_millis(1) {
                std::thread::sleep(Duration::from_micros(200));
            } else {
                std::thread::yield_now();
            }
        }
    }

    fn async_error(&self, op: &str) -> Result<()> {
        let l = lib()?;
        let guard = lock(&self.handle);
        let Some(h) = guard.as_ref() else {
            return Err(Error::Runtime(format!(
                "{op}: the NCCL communicator was destroyed or aborted"
            )));
        };
        let mut state: Res = SUCCESS;
        // SAFETY: live communicator, valid out-pointer.
        check(
            l,
            unsafe { (l.async_error)(h.0, &mut state) },
            op,
            Some(h.0),
        )?;
        check(l, state, op, Some(h.0))
    }

    /// Starts a group of point-to-point operations issued as one (`ncclGroupStart`).
    pub fn group_start() -> Result<()> {
        let l = lib()?;
        // SAFETY: no arguments.
        check(l, unsafe { (l.group_start)() }, "group_start", None)
    }

    /// Ends the group started by `group_start`, launching its operations.
    pub fn group_end() -> Result<()> {
        let l = lib()?;
        // SAFETY: no arguments.
        check(l, unsafe { (l.group_end)() }, "group_end", None)
    }

    /// Stops the communicator's operations at once (local; the peers see an error). Later
    /// calls report that it was aborted.
    pub fn abort(&self) {
        let Ok(l) = lib() else { return };
        if let Some(h) = lock(&self.handle).take() {
            let _ = self.gpu.bind();
            // SAFETY: the handle is live and taken out, so it is aborted once.
            unsafe { (l.abort)(h.0) };
        }
    }

    /// Waits for the enqueued operations, then frees the communicator.
    pub fn destroy(&self) -> Result<()> {
        let l = lib()?;
        let Some(h) = lock(&self.handle).take() else {
            return Ok(());
        };
        self.gpu.sync()?;
        // SAFETY: the handle is live and taken out, so it is destroyed once.
        check(l, unsafe { (l.destroy)(h.0) }, "destroy", None)
    }
}

impl Drop for NcclComm {
    fn drop(&mut self) {
        // Not destroyed explicitly: abort, which never waits for peers that may be gone.
        self.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtype_mapping_and_errors() {
        assert_eq!(
            data_type(DType::BF16, "all_reduce").unwrap(),
            ncclDataType_t::ncclBfloat16
        );
        assert_eq!(
            data_type(DType::Bool, "all_reduce").unwrap(),
            ncclDataType_t::ncclUint8
        );
        let e = data_type(DType::I16, "broadcast").unwrap_err();
        assert!(matches!(e, Error::Type(ref m) if m.contains("broadcast") && m.contains("int16")));
        assert_eq!(
            red_op(NcclOp::Avg, DType::F32, "x").unwrap(),
            ncclRedOp_t::ncclAvg
        );
        assert_eq!(
            red_op(NcclOp::Sum, DType::Bool, "x").unwrap(),
            ncclRedOp_t::ncclMax
        );
        assert!(red_op(NcclOp::Avg, DType::Bool, "x").is_err());
    }

    #[test]
    fn entry_points_fail_cleanly_without_a_gpu() {
        // With or without libnccl, joining a communicator needs a device: an error, no panic.
        if !super::super::is_available() {
            let e = NcclComm::new(&[0u8; 128], 0, 1, 0).err().unwrap();
            assert!(matches!(e, Error::Runtime(_)));
        }
        assert!(NcclComm::new(&[0u8; 12], 0, 1, 0).is_err());
        assert!(NcclComm::new(&[0u8; 128], 2, 2, 0).is_err());
        if !nccl_available() {
            assert!(nccl_unique_id().is_err());
            assert!(nccl_version().is_err());
        }
    }
}
