"""A small real calibration program, for test deployments and demonstrations of the worker.

    python -m loaders.minical [--delay SECONDS] INPUT OUTPUT_DIR

It does what a pipeline like calacs.e does to the archive's bookkeeping, without the physics:
it reads the dataset's file, writes its calibrated product into OUTPUT_DIR under the archive
name (FILENAME, e.g. j9irw1rqq_flt.fits) with the reference-file keywords set to the files the
worker fetched (HSTVO_REFERENCES, a JSON file: keyword -> {"file", "location", "path"}),
CAL_VER set to HSTVO_CAL_VER, a HISTORY line per reference file, and every HDU's data copied and
its DATASUM/CHECKSUM recomputed. --delay makes it take that much longer, as a real pipeline
does (to watch a worker's lease, or to kill it mid-job). It fails (exit status 1, a message on stderr) when a reference
file it was given is missing or the input is not FITS.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from astropy.io import fits


def calibrate(input_path: Path, output_dir: Path, references: dict, cal_ver: str | None) -> Path:
    """Write the calibrated product of `input_path` into `output_dir`; its path."""
    for keyword, reference in references.items():
        if not Path(reference["path"]).is_file():
            raise FileNotFoundError(f"{keyword}: reference file {reference['path']} is missing")
    with fits.open(input_path) as hdus:
        primary = hdus[0].header
        name = str(primary.get("FILENAME", input_path.name)).strip()
        if name.endswith(".gz"):
            name = name[:-3]
        for keyword, reference in sorted(references.items()):
            primary[keyword] = f"{reference['location']}${reference['file']}"
            primary.add_history(f"{keyword} = {reference['location']}${reference['file']}")
        if cal_ver:
            primary["CAL_VER"] = cal_ver
        output = output_dir / name
        hdus.writeto(output, checksum=True, overwrite=True)
    return output


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--delay"] and len(args) > 1:
        time.sleep(float(args[1]))
        args = args[2:]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    references = {}
    if os.environ.get("HSTVO_REFERENCES"):
        references = json.loads(Path(os.environ["HSTVO_REFERENCES"]).read_text())
    try:
        product = calibrate(Path(args[0]), Path(args[1]), references,
                            os.environ.get("HSTVO_CAL_VER"))
    except (OSError, ValueError) as exc:
        print(f"minical: {exc}", file=sys.stderr)
        return 1
    print(f"minical: wrote {product}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
