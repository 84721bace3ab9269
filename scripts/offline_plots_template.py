"""Write plots/offline.html: DVC's HTML page for `dvc plots show` with vega, vega-lite and
vega-embed inlined, so the charts render without a network (DVC's own page loads them from a CDN
and shows nothing offline). The libraries come from the npm registry at the versions DVC's
renderer names; `.dvc/config` points `plots.html_template` at the file.

    python scripts/offline_plots_template.py   # needs npm; the result is committed
"""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from pathlib import Path

LIBRARIES = {  # npm package@version -> its minified browser build
    "vega@5.20.2": "package/build/vega.min.js",
    "vega-lite@5.2.0": "package/build/vega-lite.min.js",
    "vega-embed@6.18.2": "package/build/vega-embed.min.js",
}
OUT = Path(__file__).resolve().parents[1] / "plots" / "offline.html"


def main() -> None:
    scripts = []
    with tempfile.TemporaryDirectory() as tmp:
        for package, member in LIBRARIES.items():
            name = subprocess.run(
                ["npm", "pack", package, "--silent"], cwd=tmp, check=True,
                capture_output=True, text=True,
            ).stdout.strip().splitlines()[-1]  # fmt: skip
            with tarfile.open(Path(tmp) / name) as archive:
                source = archive.extractfile(member)
                assert source is not None, member
                code = source.read().decode("utf8")
            code = code.replace("</script>", "<\\/script>")
            scripts.append(f"<!-- {package} (BSD-3-Clause), from the npm registry -->\n"
                           f"<script>{code}</script>")  # fmt: skip
    page = (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n<title>DVC plots</title>\n'
        "{refresh_tag}\n"
        + "\n".join(scripts)
        + "\n</head>\n<body>\n{plot_divs}\n</body>\n</html>\n"
    )
    OUT.parent.mkdir(exist_ok=True)
    tmp_out = OUT.with_suffix(".tmp")
    tmp_out.write_text(page, encoding="utf8")
    tmp_out.replace(OUT)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
