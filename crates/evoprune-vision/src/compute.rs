//! Where the backbones compute: burn's flex CPU backend (always built), or a GPU backend
//! compiled in with a cargo feature (`wgpu`: Vulkan, Metal or DX12 adapters; `cuda`).

use crate::{Result, VisionError};
use burn::tensor::Device;
use std::fmt;
use std::str::FromStr;

/// A compute device, as written in a config (`"cpu"`, `"wgpu"`, `"wgpu:cpu"`, `"wgpu:N"`,
/// `"cuda"`, `"cuda:N"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Compute {
    /// burn's flex CPU backend; feature extraction spreads batches over the rayon pool.
    #[default]
    Cpu,
    /// wgpu's preferred adapter (a discrete GPU where there is one).
    Wgpu,
    /// The `N`th discrete GPU wgpu finds.
    WgpuGpu(usize),
    /// A CPU adapter of wgpu (e.g. Mesa's lavapipe Vulkan driver): the GPU code path on a
    /// machine without a GPU.
    WgpuCpu,
    /// CUDA device `N`.
    Cuda(usize),
}

impl Compute {
    /// The cargo feature this device needs (`None`: always built).
    pub fn feature(self) -> Option<&'static str> {
        match self {
            Compute::Cpu => None,
            Compute::Wgpu | Compute::WgpuGpu(_) | Compute::WgpuCpu => Some("wgpu"),
            Compute::Cuda(_) => Some("cuda"),
        }
    }

    /// Whether this build can use the device (its feature is compiled in).
    pub fn built(self) -> bool {
        match self.feature() {
            None => true,
            Some("wgpu") => cfg!(feature = "wgpu"),
            Some(_) => cfg!(feature = "cuda"),
        }
    }

    /// The burn device; an error, naming the cargo feature to build with, when this build
    /// lacks the backend. Creating it does not touch the hardware: the first tensor does.
    pub fn device(self) -> Result<Device> {
        if !self.built() {
            return Err(VisionError::Unsupported(format!(
                "device \"{self}\" needs evoprune built with `--features {}`",
                self.feature().expect("only GPU devices are optional")
            )));
        }
        Ok(match self {
            Compute::Cpu => Device::flex(),
            #[cfg(feature = "wgpu")]
            Compute::Wgpu => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
            #[cfg(feature = "wgpu")]
            Compute::WgpuGpu(i) => Device::wgpu(burn::tensor::DeviceKind::DiscreteGpu(i)),
            #[cfg(feature = "wgpu")]
            Compute::WgpuCpu => Device::wgpu(burn::tensor::DeviceKind::Cpu),
            #[cfg(feature = "cuda")]
            Compute::Cuda(i) => Device::cuda(i),
            #[allow(unreachable_patterns)]
            _ => unreachable!("checked by built()"),
        })
    }
}

impl Compute {
    /// The burn device, opened: a GPU backend that finds no usable adapter or driver (burn
    /// panics on the first tensor then) becomes an error naming the device instead.
    pub fn open(self) -> Result<Device> {
        let dev = self.device()?;
        if self == Compute::Cpu {
            return Ok(dev);
        }
        let probe = dev.clone();
        // keep burn's panic message off the terminal: the error below says what happened
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let r = std::panic::catch_unwind(move || {
            burn::tensor::Tensor::<1>::zeros([1], &probe)
                .into_data()
                .try_to_vec::<f32>()
                .is_ok()
        });
        std::panic::set_hook(hook);
        match r {
            Ok(true) => Ok(dev),
            Ok(false) => Err(VisionError::Unsupported(format!(
                "device \"{self}\" returned no data"
            ))),
            Err(p) => {
                let why = p
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| p.downcast_ref::<&str>().copied())
                    .unwrap_or("the backend panicked");
                Err(VisionError::Unsupported(format!(
                    "device \"{self}\" could not be opened: {why}"
                )))
            }
        }
    }
}

impl fmt::Display for Compute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compute::Cpu => write!(f, "cpu"),
            Compute::Wgpu => write!(f, "wgpu"),
            Compute::WgpuGpu(i) => write!(f, "wgpu:{i}"),
            Compute::WgpuCpu => write!(f, "wgpu:cpu"),
            Compute::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl FromStr for Compute {
    type Err = VisionError;
    fn from_str(s: &str) -> Result<Compute> {
        let index = |i: &str| {
            i.parse::<usize>().map_err(|_| {
                VisionError::Unsupported(format!("device \"{s}\": `{i}` is not a device index"))
            })
        };
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "cpu" | "flex" => Compute::Cpu,
            "wgpu" => Compute::Wgpu,
            "wgpu:cpu" => Compute::WgpuCpu,
            "cuda" => Compute::Cuda(0),
            t => match t.split_once(':') {
                Some(("wgpu", i)) => Compute::WgpuGpu(index(i)?),
                Some(("cuda", i)) => Compute::Cuda(index(i)?),
                _ => {
                    return Err(VisionError::Unsupported(format!(
                        "unknown device \"{s}\" (cpu, wgpu, wgpu:cpu, wgpu:N, cuda, cuda:N)"
                    )));
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_print_and_round_trip() {
        for (s, d) in [
            ("cpu", Compute::Cpu),
            ("CPU", Compute::Cpu),
            ("flex", Compute::Cpu),
            ("wgpu", Compute::Wgpu),
            ("wgpu:cpu", Compute::WgpuCpu),
            ("wgpu:1", Compute::WgpuGpu(1)),
            ("cuda", Compute::Cuda(0)),
            ("cuda:3", Compute::Cuda(3)),
        ] {
            let p: Compute = s.parse().unwrap();
            assert_eq!(p, d, "{s}");
            assert_eq!(p.to_string().parse::<Compute>().unwrap(), d);
        }
        for bad in ["gpu", "cuda:x", "wgpu:", "cuda:-1", ""] {
            let e = bad.parse::<Compute>().unwrap_err().to_string();
            assert!(e.contains(&format!("\"{bad}\"")), "{e}");
        }
    }

    #[test]
    fn the_cpu_is_always_there_and_a_missing_backend_names_its_feature() {
        assert!(Compute::Cpu.built());
        assert_eq!(Compute::Cpu.device().unwrap(), Device::flex());
        assert_eq!(Compute::Cpu.open().unwrap(), Device::flex());
        for d in [Compute::Wgpu, Compute::Cuda(0)] {
            if !d.built() {
                let e = d.device().unwrap_err().to_string();
                assert!(
                    e.contains(&format!("--features {}", d.feature().unwrap())),
                    "{e}"
                );
            }
        }
        assert_eq!(Compute::WgpuCpu.built(), cfg!(feature = "wgpu"));
        // no machine has a 100th discrete GPU: burn panics on it, `open` returns the error
        let e = Compute::WgpuGpu(99).open().unwrap_err().to_string();
        eprintln!("{e}");
        assert!(e.contains("\"wgpu:99\""), "{e}");
        assert_eq!(Compute::Cuda(1).built(), cfg!(feature = "cuda"));
    }
}
