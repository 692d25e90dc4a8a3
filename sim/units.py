"""SI conversions used at the input/output edge.

Inside embosim every quantity is SI (m, s, Pa, m^3/s, kg). Scenario files and
reports use clinical units with the unit in the key name (``diameter_um``,
``pressure_mmHg``, ``rate_ml_min``, ``volume_ml``); these helpers convert.
"""

from __future__ import annotations

#: Pa per mmHg (conventional millimetre of mercury, 13.5951 g/cm^3, g = 9.80665 m/s^2).
MMHG_PA = 133.322387415
#: m per um.
UM_M = 1.0e-6
#: m per mm.
MM_M = 1.0e-3
#: m^3 per mL.
ML_M3 = 1.0e-6
#: m^3/s per mL/min.
ML_MIN_M3S = 1.0e-6 / 60.0
#: m per French catheter unit (1 Fr = 1/3 mm by definition).
FRENCH_M = 1.0e-3 / 3.0
#: Pa s per mPa s.
MPA_S_PA_S = 1.0e-3
#: s per minute, hour and day.
MIN_S = 60.0
HOUR_S = 3600.0
DAY_S = 86400.0
#: Hours in a week (intervals between sessions are in weeks, a temporary plug's life in hours).
HOURS_PER_WEEK = 168.0
#: kg per mg.
MG_KG = 1.0e-6
#: m^3 per L.
L_M3 = 1.0e-3
#: kg/m^3 per ng/mL (1 ng/mL = 1e-12 kg / 1e-6 m^3).
NG_ML_KG_M3 = 1.0e-6


def mmhg_to_pa(p_mmhg):
    """Pressure in mmHg -> Pa."""
    return p_mmhg * MMHG_PA


def pa_to_mmhg(p_pa):
    """Pressure in Pa -> mmHg."""
    return p_pa / MMHG_PA


def ml_min_to_m3s(q_ml_min):
    """Flow rate in mL/min -> m^3/s."""
    return q_ml_min * ML_MIN_M3S


def m3s_to_ml_min(q_m3s):
    """Flow rate in m^3/s -> mL/min."""
    return q_m3s / ML_MIN_M3S
