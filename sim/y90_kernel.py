"""Y-90 dose point kernel in soft tissue and its application to the tissue points (``sirt.dose_model = "kernel"``).

Kernel: Loevinger's beta point-source function ([Loevinger1956]) for the Y-90 endpoint energy E0 = 2.2785 MeV
([ENSDFY90]). With x = rho r (g/cm^2), the apparent absorption coefficient nu = 18.6 (E0 - 0.036)^-1.37 cm^2/g
(the forbidden-spectrum factor [2 - E_mean / E_mean*] taken as 1: model assumption) and c = 1 (E0 in 1.5-3 MeV),
the energy absorbed per unit mass is proportional to 1 / (nu x)^2 for nu x < 1 and e^(1 - nu x) / (nu x) beyond.
Its cumulative energy fraction inside radius r is F(u) = u / 3 (u = nu rho r <= 1), 1 - (u + 1) e^(1 - u) / 3 beyond:
a third of the energy within 1.6 mm, 90% within 6.0 mm once cut and renormalised (Loevinger's function is an
empirical fit; it is not compared here with a tabulated Monte Carlo kernel). The kernel is cut at the
maximum beta range, 11 mm (model assumption: the value commonly quoted; [EANM2021] gives the mean range
2.5-4 mm; 0.8% of the energy lies beyond) and renormalised, so it deposits exactly the
emitted energy in an infinite medium.

Application: the activity of each compartment part (tumour, normal) is spread evenly over its tissue points,
binned on a cubic grid of twice the points' spacing and convolved (FFT) with the dose voxel kernel of that grid (the
point kernel averaged over 3^3 x 3^3 source-target sub-points of each voxel pair; the own voxel keeps the energy
absorbed within the sphere of its volume, divided by the tissue mass its points stand for; renormalised so that the
kernel deposits the emitted energy). A point's dose is its voxel's; a compartment part's dose is the mean over its
points. The voxel is at least ``MIN_VOXEL_M``, coarsened until the FFT's arrays fit in ``MEMORY_BUDGET_BYTES``
(estimated before any array is built). Beyond the liver the medium is taken as tissue (the energy escaping the
liver's surface is lost). Cross-fire is resolved only where the points are finer than the beta range: a liver with
coarse terminals has coarse points (the default liver about 1 mm, a 300 um-terminal liver about 4 mm).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .dosimetry import TISSUE_DENSITY_KG_M3
from .y90 import DOSE_GY_KG_PER_GBQ, GBQ_BQ

__all__ = ["ENDPOINT_MEV", "NU_M2_KG", "CUTOFF_M", "cumulative_fraction", "kernel_per_kg", "sphere_mean_per_kg",
           "voxel_kernel", "grid_doses", "kernel_compartment_doses", "MEMORY_BUDGET_BYTES", "MIN_VOXEL_M"]

#: Y-90 beta endpoint energy, MeV ([ENSDFY90]: 2278.5 keV, 99.99% of decays).
ENDPOINT_MEV = 2.2785
#: Loevinger's apparent absorption coefficient nu = 18.6 (E0 - 0.036)^-1.37 cm^2/g ([Loevinger1956]), in m^2/kg.
NU_M2_KG = 18.6 * (ENDPOINT_MEV - 0.036) ** -1.37 * 0.1
#: Kernel cut-off: the maximum range of Y-90 betas in tissue, 11 mm (model assumption: the value commonly quoted; the
#: bibliography's [EANM2021] gives only the mean range, 2.5-4 mm).
CUTOFF_M = 11e-3
#: Smallest voxel of the dose grid, m (numerical choice: below the tissue points' spacing nothing is resolved).
MIN_VOXEL_M = 0.5e-3
#: Voxel edge of the dose grid in tissue-point spacings (numerical choice: about 8 points per voxel, so that hardly a
#: voxel inside the liver is empty, e^-8).
VOXEL_POINT_SPACINGS = 2.0
#: Most memory the FFT convolution may take (bytes; numerical choice: the machine's share).
MEMORY_BUDGET_BYTES = 1.0e9
#: Sub-points per axis when a voxel pair's kernel is averaged (numerical choice: 3^6 = 729 pairs per voxel).
_SUB = 3


def _loevinger_fraction(u: np.ndarray) -> np.ndarray:
    """Loevinger's cumulative energy fraction within u = nu rho r (c = 1), untruncated."""
    u = np.asarray(u, np.float64)
    return np.where(u <= 1.0, u / 3.0, 1.0 - (u + 1.0) * np.exp(1.0 - np.maximum(u, 1.0)) / 3.0)


_NU_RHO = NU_M2_KG * TISSUE_DENSITY_KG_M3  # 1/m
_F_CUT = float(_loevinger_fraction(_NU_RHO * CUTOFF_M))


def cumulative_fraction(r_m) -> np.ndarray:
    """Share of a decay's beta energy absorbed within radius ``r_m`` (m) of a point source in tissue (1 at the cut)."""
    r = np.minimum(np.asarray(r_m, np.float64), CUTOFF_M)
    return _loevinger_fraction(_NU_RHO * r) / _F_CUT


def kernel_per_kg(r_m) -> np.ndarray:
    """Share of a decay's energy absorbed per kg of tissue at distance ``r_m`` (m > 0) from the source, 1/kg.

    ``dF/dr / (4 pi r^2 rho)``; 0 beyond the cut-off.
    """
    r = np.asarray(r_m, np.float64)
    u = _NU_RHO * r
    du = np.where(u <= 1.0, 1.0 / 3.0, u * np.exp(1.0 - np.maximum(u, 1.0)) / 3.0) / _F_CUT  # dF/du
    with np.errstate(divide="ignore"):
        out = du * _NU_RHO / (4.0 * math.pi * r * r * TISSUE_DENSITY_KG_M3)
    return np.where(r <= CUTOFF_M, out, 0.0)


def sphere_mean_per_kg(radius_m: float) -> float:
    """Share of a decay's energy absorbed per kg, averaged over a sphere of ``radius_m`` around the source, 1/kg."""
    return float(cumulative_fraction(radius_m)) / (TISSUE_DENSITY_KG_M3 * 4.0 / 3.0 * math.pi * radius_m ** 3)


@lru_cache(maxsize=8)
def voxel_kernel(voxel_m: float) -> np.ndarray:
    """Dose voxel kernel of a cubic grid: share of the energy of decays uniform in the central voxel absorbed per kg
    in each voxel, 1/kg, shape (n, n, n) with n = 2 ceil(cutoff / voxel) + 1. ``sum(kernel) rho voxel^3 = 1``."""
    h = float(voxel_m)
    half = int(math.ceil(CUTOFF_M / h))
    sub = (np.arange(_SUB) + 0.5) / _SUB - 0.5
    s = np.stack(np.meshgrid(sub, sub, sub, indexing="ij"), -1).reshape(-1, 3) * h  # sub-points of a voxel
    pair = (s[:, None, :] - s[None, :, :]).reshape(-1, 3)  # target minus source offsets inside one voxel pair
    idx = np.arange(-half, half + 1)
    grid = np.stack(np.meshgrid(idx, idx, idx, indexing="ij"), -1).reshape(-1, 3) * h
    out = np.empty(grid.shape[0])
    for start in range(0, grid.shape[0], 256):
        centre = grid[start:start + 256]
        r = np.linalg.norm(centre[:, None, :] + pair[None, :, :], axis=-1)
        out[start:start + 256] = kernel_per_kg(np.maximum(r, 1e-12)).mean(axis=1)
    centre_i = out.size // 2
    mass = TISSUE_DENSITY_KG_M3 * h ** 3
    own = sphere_mean_per_kg((3.0 / (4.0 * math.pi)) ** (1.0 / 3.0) * h)  # the sphere of the voxel's volume
    out[centre_i] = 0.0
    out *= (1.0 - own * mass) / (out.sum() * mass)
    out[centre_i] = own
    n = 2 * half + 1
    return out.reshape(n, n, n)


def _fft_bytes(shape: tuple[int, ...], kernel_n: int) -> float:
    """Memory of one FFT convolution (scipy.signal.fftconvolve): padded real inputs, complex spectra, output."""
    padded = float(np.prod([d + kernel_n - 1 for d in shape]))
    return padded * (2 * 8 + 3 * 16)


def grid_doses(xyz_m: np.ndarray, activity_bq: np.ndarray, voxel_m: float, point_volume_m3: float | None = None
               ) -> np.ndarray:
    """Dose (Gy) at each point of ``xyz_m`` (N, 3) from the activity (Bq at implantation, decaying in place) at the
    points, by the dose voxel kernel on a grid of voxel ``voxel_m`` (coarser if the memory budget needs it).

    The points sample tissue, each standing for ``point_volume_m3`` (default: one voxel). The energy a voxel keeps of
    its own activity is divided by the tissue mass its points stand for (so that a point does not read the dose of its
    own activity concentrated in a voxel, and a voxel at the liver's edge is not diluted by empty space); the
    neighbours' cross-fire is the dose of the kernel at full tissue density.
    """
    from scipy.signal import fftconvolve

    xyz = np.asarray(xyz_m, np.float64)
    activity = np.asarray(activity_bq, np.float64)
    lo = xyz.min(axis=0)
    extent = xyz.max(axis=0) - lo
    h = max(float(voxel_m), MIN_VOXEL_M)
    while True:
        shape = tuple(int(d) for d in np.rint(extent / h).astype(np.int64) + 1)  # voxel centres at lo + i h
        kernel_n = 2 * int(math.ceil(CUTOFF_M / h)) + 1
        if _fft_bytes(shape, kernel_n) <= MEMORY_BUDGET_BYTES:
            break
        h *= 1.25
    cell = np.minimum(np.rint((xyz - lo) / h).astype(np.int64), np.array(shape) - 1)
    flat = np.ravel_multi_index(cell.T, shape)
    size = int(np.prod(shape))
    source = np.bincount(flat, weights=activity, minlength=size)
    tissue_m3 = np.bincount(flat, minlength=size) * (h ** 3 if point_volume_m3 is None else float(point_volume_m3))
    kernel = voxel_kernel(h).copy()
    centre = kernel_n // 2
    own = kernel[centre, centre, centre] * h ** 3  # energy share kept in the own voxel, per m^3 of tissue
    kernel[centre, centre, centre] = 0.0
    dose = fftconvolve(source.reshape(shape), kernel, mode="same").ravel()
    dose += np.divide(own * source, tissue_m3, out=np.zeros(size), where=tissue_m3 > 0)
    return np.maximum(dose[flat], 0.0) * DOSE_GY_KG_PER_GBQ / GBQ_BQ


def kernel_compartment_doses(compiled, tumour_bq: np.ndarray, normal_bq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dose of each compartment's tumour and normal part (Gy) with the kernel's cross-fire.

    Each part's activity (Bq, (C,)) is spread evenly over its tissue points: the viable tumour points for the tumour
    part, the normal-liver points for the normal part (all the compartment's points outside necrotic cores when the
    part has none, all its points when every one is necrotic); a part's dose is the mean over the same points. A
    necrotic core's points get no activity (no flow carries spheres there) and count in neither part; they take
    cross-fire like any tissue.
    """
    points, n_comp = compiled.points, compiled.compartments.n
    comp = np.asarray(points.compartment, np.int64)
    tumour = np.asarray(points.tumour_id) >= 0
    necrotic = np.zeros(comp.shape[0], np.bool_) if points.necrotic is None else np.asarray(points.necrotic, np.bool_)
    is_t, is_n = tumour & ~necrotic, ~tumour  # viable tumour, normal liver
    n_all = np.bincount(comp, minlength=n_comp).astype(np.float64)
    n_live = np.bincount(comp[~necrotic], minlength=n_comp).astype(np.float64)
    n_t = np.bincount(comp[is_t], minlength=n_comp).astype(np.float64)
    n_n = np.bincount(comp[is_n], minlength=n_comp).astype(np.float64)
    pool = np.where(n_live[comp] > 0, ~necrotic, True)  # per point: a part without points of its own uses these
    pool_count = np.where(n_live > 0, n_live, n_all)
    use_t = np.where(n_t[comp] > 0, is_t, pool)
    use_n = np.where(n_n[comp] > 0, is_n, pool)
    per_t = np.divide(tumour_bq, np.where(n_t > 0, n_t, pool_count), out=np.zeros(n_comp), where=n_all > 0)
    per_n = np.divide(normal_bq, np.where(n_n > 0, n_n, pool_count), out=np.zeros(n_comp), where=n_all > 0)
    activity = per_t[comp] * use_t + per_n[comp] * use_n
    dose = grid_doses(points.xyz, activity, VOXEL_POINT_SPACINGS * points.volume_m3 ** (1.0 / 3.0), points.volume_m3)

    def part_mean(mask: np.ndarray) -> np.ndarray:
        count = np.bincount(comp[mask], minlength=n_comp)
        total = np.bincount(comp[mask], weights=dose[mask], minlength=n_comp)
        return np.divide(total, count, out=np.zeros(n_comp), where=count > 0)

    return part_mean(use_t), part_mean(use_n)
