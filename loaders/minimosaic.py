"""A small real stand-in for HAP's single-visit pipeline (drizzlepac's runsinglehap), for test
deployments and demonstrations of the worker's `build_mosaic` jobs.

    python -m loaders.minimosaic POLLER_LIST OUTPUT_DIR [--name hst_..._ipppss]

It reads the visit's poller list (file,proposal,program,obset,exptime,filters,detector,path: one
line per member exposure, as the worker writes it) and writes the mosaic into OUTPUT_DIR under
HAP's name (hst_<proposal>_<visit>_<instrument>_<detector>_<filter>_<ipppss>_drc.fits, _drz when
a member is not CTE-corrected; the name is --name, or HSTVO_MOSAIC, with the suffix added): the
first member's headers and WCS, the members' science pixels averaged where they share a shape
(no drizzling: that is the real pipeline's), the exposure time summed, the time span covered,
and a HISTORY line per member. It fails (exit status 1, a message on stderr) when a member is
missing or not FITS.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from astropy.io import fits


def read_poller(poller: Path) -> list[tuple[Path, str]]:
    """(the member's file, its suffix) of each line."""
    members = []
    for line in poller.read_text().splitlines():
        if not line.strip():
            continue
        fields = line.split(",")
        path = Path(fields[-1]) / fields[0]
        if not path.is_file():
            raise FileNotFoundError(f"member {path} is missing")
        suffix = fields[0].removesuffix(".gz").removesuffix(".fits").rsplit("_", 1)[-1]
        members.append((path, suffix))
    if not members:
        raise ValueError(f"{poller} lists no exposure")
    return members


def build(poller: Path, output_dir: Path, name: str) -> Path:
    """Write the mosaic of the poller list's members into `output_dir`; its path."""
    members = read_poller(poller)
    suffix = "drc" if all(s == "flc" for _, s in members) else "drz"
    target = output_dir / f"{name}_{suffix}.fits"
    with fits.open(members[0][0]) as first:
        primary = first[0].header.copy()
        science = first["SCI"].header.copy() if "SCI" in first else None
        stack = [np.asarray(first["SCI"].data, dtype=np.float32)] if science is not None else []
    starts, ends, exposure = [], [], 0.0
    for path, _ in members:
        with fits.open(path) as hdus:
            header = hdus[0].header
            starts.append(header.get("EXPSTART"))
            ends.append(header.get("EXPEND"))
            exposure += float(header.get("EXPTIME", 0.0) or 0.0)
            if stack and "SCI" in hdus and hdus["SCI"].data is not None \
                    and hdus["SCI"].data.shape == stack[0].shape and path != members[0][0]:
                stack.append(np.asarray(hdus["SCI"].data, dtype=np.float32))
        primary.add_history(f"member {path.name}")
    primary["FILENAME"] = target.name
    primary["ROOTNAME"] = name
    primary["NCOMBINE"] = (len(members), "exposures combined")
    primary["EXPTIME"] = exposure
    primary["TEXPTIME"] = exposure
    if all(s is not None for s in starts):
        primary["EXPSTART"] = min(starts)
    if all(e is not None for e in ends):
        primary["EXPEND"] = max(ends)
    hdus = [fits.PrimaryHDU(header=primary)]
    if science is not None:
        combined = np.nanmean(np.stack(stack), axis=0) if len(stack) > 1 else stack[0]
        hdus.append(fits.ImageHDU(data=combined, header=science, name="SCI"))
    fits.HDUList(hdus).writeto(target, overwrite=True, checksum=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("poller", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--name", default=os.environ.get("HSTVO_MOSAIC"),
                        help="the mosaic's name without suffix (default: HSTVO_MOSAIC)")
    args = parser.parse_args(argv)
    if not args.name:
        print("minimosaic: name the mosaic (--name, or HSTVO_MOSAIC)", file=sys.stderr)
        return 1
    try:
        print(build(args.poller, args.output, args.name))
    except (OSError, ValueError, KeyError) as exc:
        print(f"minimosaic: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
