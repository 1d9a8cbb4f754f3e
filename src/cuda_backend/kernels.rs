//! Kernel sources (the `cuda/` folder, embedded at build time) and their compilation with
//! NVRTC for the device's own architecture, cached per process and on disk (keyed by a hash
//! of source, options and NVRTC version, so a changed kernel never loads a stale binary).

use crate::error::{Error, Result};
use cudarc::nvrtc::{result as nv, sys as nvsys, Ptx};
use std::ffi::CString;

const PRELUDE: &str = include_str!("../../cuda/prelude.cuh");

/// One `.cu` file of `cuda/`: compiled and loaded as a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Family {
    Memory,
    Elementwise,
    Reduce,
    Index,
    Nn,
    Optim,
    Random,
}

impl Family {
    pub const ALL: [Family; 7] = [
        Family::Memory,
        Family::Elementwise,
        Family::Reduce,
        Family::Index,
        Family::Nn,
        Family::Optim,
        Family::Random,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Family::Memory => "memory",
            Family::Elementwise => "elementwise",
            Family::Reduce => "reduce",
            Family::Index => "index",
            Family::Nn => "nn",
            Family::Optim => "optim",
            Family::Random => "random",
        }
    }

    fn body(self) -> &'static str {
        match self {
            Family::Memory => include_str!("../../cuda/memory.cu"),
            Family::Elementwise => include_str!("../../cuda/elementwise.cu"),
            Family::Reduce => include_str!("../../cuda/reduce.cu"),
            Family::Index => include_str!("../../cuda/index.cu"),
            Family::Nn => include_str!("../../cuda/nn.cu"),
            Family::Optim => include_str!("../../cuda/optim.cu"),
            Family::Random => include_str!("../../cuda/random.cu"),
        }
    }

    /// Every kernel the Rust side launches from this family.
    fn kernel_names(self) -> Vec<String> {
        match self {
            Family::Memory => super::memory::kernel_names(),
            Family::Elementwise => super::elementwise::kernel_names(),
            Family::Reduce => super::reduce::kernel_names(),
            Family::Index => super::index::kernel_names(),
            Family::Nn => super::nn::kernel_names(),
            Family::Optim => super::optim::kernel_names(),
            Family::Random => super::random::kernel_names(),
        }
    }

    fn source(self) -> String {
        format!("{PRELUDE}\n#line 1 \"{}.cu\"\n{}", self.name(), self.body())
    }
}

fn options(target: &str) -> Vec<String> {
    vec![
        format!("--gpu-architecture={target}"),
        "--std=c++17".into(),
        "-default-device".into(),
    ]
}

fn nvrtc_missing() -> Error {
    Error::Runtime(
        "NVRTC (libnvrtc.so.13) was not found: install the CUDA 13.0 runtime compiler, e.g. \
         `pip install \"nvidia-cuda-nvrtc==13.0.*\"` (the `rtorch[cuda]` extra), and import \
         rtorch before using CUDA so that it can be located"
            .into(),
    )
}

fn nvrtc_available() -> bool {
    // SAFETY: only probes whether the library can be opened.
    unsafe { nvsys::is_culib_present() }
}

/// Compiles `family` for `target` (`sm_XY` gives a CUBIN, `compute_XY` PTX text): the image
/// and the compiler log (warnings).
fn compile(family: Family, target: &str) -> Result<(Vec<u8>, String)> {
    if !nvrtc_available() {
        return Err(nvrtc_missing());
    }
    let src = CString::new(family.source())
        .map_err(|_| Error::Runtime("kernel source contains a NUL byte".into()))?;
    let name = CString::new(format!("{}.cu", family.name())).unwrap_or_default();
    let prog = nv::create_program(&src, Some(&name))
        .map_err(|e| Error::Runtime(format!("NVRTC: {e:?}")))?;
    // SAFETY: `prog` is a live program, destroyed once below.
    let out = unsafe {
        let compiled = nv::compile_program(prog, &options(target));
        let log = nv::get_program_log(prog)
            .map(|l| {
                let bytes: Vec<u8> = l
                    .iter()
                    .take_while(|&&c| c != 0)
                    .map(|&c| c as u8)
                    .collect();
                String::from_utf8_lossy(&bytes).trim().to_string()
            })
            .unwrap_or_default();
        match compiled {
            Err(_) => Err(Error::Runtime(format!(
                "NVRTC failed to compile the {} kernels for {target}:\n{log}",
                family.name()
            ))),
            Ok(()) if target.starts_with("sm_") => {
                let mut size = 0usize;
                let mut image = Vec::new();
                let r = nvsys::nvrtcGetCUBINSize(prog, &mut size).result();
                if r.is_ok() {
                    image = vec![0u8; size];
                    let _ = nvsys::nvrtcGetCUBIN(prog, image.as_mut_ptr() as *mut _).result();
                }
                Ok((image, log))
            }
            Ok(()) => nv::get_ptx(prog)
                .map(|p| (p.iter().map(|&c| c as u8).collect(), log))
                .map_err(|e| Error::Runtime(format!("NVRTC: {e:?}"))),
        }
    };
    // SAFETY: destroyed exactly once.
    let _ = unsafe { nv::destroy_program(prog) };
    out
}

/// The NVRTC version, part of the cache key.
fn nvrtc_version() -> (i32, i32) {
    let (mut a, mut b) = (0, 0);
    // SAFETY: two valid out-pointers.
    let _ = unsafe { nvsys::nvrtcVersion(&mut a, &mut b) };
    (a, b)
}

fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn cache_dir() -> Option<std::path::PathBuf> {
    if let Some(d) = std::env::var_os("RTORCH_KERNEL_CACHE") {
        return (!d.is_empty()).then(|| d.into());
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache")))?;
    Some(base.join("rtorch").join("kernels"))
}

/// The loadable image of `family` for a device of compute capability `cc`.
pub(crate) fn binary_for(family: Family, cc: (i32, i32)) -> Result<Ptx> {
    let target = format!("sm_{}{}", cc.0, cc.1);
    let src = family.source();
    let ver = nvrtc_version();
    let key = fnv1a(&[
        src.as_bytes(),
        options(&target).join(" ").as_bytes(),
        format!("{ver:?}").as_bytes(),
    ]);
    let file = cache_dir().map(|d| d.join(format!("{}-{key:016x}-{target}.cubin", family.name())));
    if let Some(f) = &file {
        if let Ok(bytes) = std::fs::read(f) {
            if !bytes.is_empty() {
                return Ok(Ptx::from_binary(bytes));
            }
        }
    }
    let image = match compile(family, &target) {
        Ok((image, _)) if !image.is_empty() => image,
        // An architecture newer than this NVRTC knows: PTX for the newest it does, which
        // the driver compiles.
        _ => {
            let (ptx, _) = compile(family, "compute_90")?;
            return Ok(Ptx::from_src(
                String::from_utf8_lossy(&ptx)
                    .trim_end_matches('\0')
                    .to_string(),
            ));
        }
    };
    if let Some(f) = &file {
        if let Some(dir) = f.parent() {
            let tmp = f.with_extension(format!("tmp{}", std::process::id()));
            if std::fs::create_dir_all(dir).is_ok() && std::fs::write(&tmp, &image).is_ok() {
                let _ = std::fs::rename(&tmp, f);
            }
        }
    }
    Ok(Ptx::from_binary(image))
}

/// Compiles every family for `arch` ("sm_80", "sm_90", …) both as PTX and as a CUBIN, checks
/// that every kernel the backend launches is defined, and returns each family's compiler log
/// (empty when clean). Needs NVRTC but no GPU.
pub fn compile_check(arch: &str) -> Result<Vec<(String, String)>> {
    let Some(num) = arch.strip_prefix("sm_") else {
        return Err(Error::Value(format!(
            "compile_check: expected an architecture like 'sm_90', got '{arch}'"
        )));
    };
    let virtual_arch = format!("compute_{num}");
    // Families compile independently: one thread each.
    std::thread::scope(|scope| {
        let jobs: Vec<_> = Family::ALL
            .iter()
            .map(|&family| {
                let virtual_arch = &virtual_arch;
                scope.spawn(move || check_family(family, virtual_arch, arch))
            })
            .collect();
        jobs.into_iter()
            .map(|j| {
                j.join()
                    .unwrap_or_else(|_| Err(Error::Runtime("NVRTC compile thread failed".into())))
            })
            .collect()
    })
}

/// PTX for the entry-point check, then a CUBIN for `arch`; the combined log.
fn check_family(family: Family, virtual_arch: &str, arch: &str) -> Result<(String, String)> {
    let (ptx, log_ptx) = compile(family, virtual_arch)?;
    let text = String::from_utf8_lossy(&ptx);
    let entries: std::collections::HashSet<&str> = text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix(".visible .entry "))
        .map(|l| l.split(['(', ' ']).next().unwrap_or(""))
        .collect();
    let missing: Vec<String> = family
        .kernel_names()
        .into_iter()
        .filter(|n| !entries.contains(n.as_str()))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Runtime(format!(
            "the {} kernels lack entry points the backend launches: {}",
            family.name(),
            missing.join(", ")
        )));
    }
    let (_, log_bin) = compile(family, arch)?;
    let log = [log_ptx, log_bin]
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    Ok((family.name().to_string(), log))
}

/// Compiles (or finds in the disk cache) several families for `cc` at once, in parallel, so a
/// program pays the compile time of the slowest family rather than the sum.
pub(crate) fn prepare(families: &[Family], cc: (i32, i32)) -> Vec<(Family, Result<Ptx>)> {
    std::thread::scope(|scope| {
        let jobs: Vec<_> = families
            .iter()
            .map(|&f| (f, scope.spawn(move || binary_for(f, cc))))
            .collect();
        jobs.into_iter()
            .map(|(f, j)| {
                let r = j
                    .join()
                    .unwrap_or_else(|_| Err(Error::Runtime("NVRTC compile thread failed".into())));
                (f, r)
            })
            .collect()
    })
}

/// Compiles every family for `arch` ("sm_90") into the disk cache, for a GPU machine to load
/// without compiling. Returns the cache directory.
pub fn prebuild(arch: &str) -> Result<String> {
    let cc = arch
        .strip_prefix("sm_")
        .filter(|d| d.len() >= 2)
        .and_then(|d| {
            let (major, minor) = d.split_at(d.len() - 1);
            Some((major.parse().ok()?, minor.parse().ok()?))
        })
        .ok_or_else(|| {
            Error::Value(format!(
                "prebuild: expected an architecture like 'sm_90', got '{arch}'"
            ))
        })?;
    let dir = cache_dir().ok_or_else(|| {
        Error::Runtime("prebuild: no kernel cache directory (set RTORCH_KERNEL_CACHE)".into())
    })?;
    for (_, r) in prepare(&Family::ALL, cc) {
        r?;
    }
    Ok(dir.display().to_string())
}
