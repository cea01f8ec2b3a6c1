"""Data docs that work offline: GX's CDN assets, fetched once from the npm registry, served from the site.

GX's page templates load about fifteen CSS/JS files from CDNs (jQuery, Bootstrap, bootstrap-table,
Font Awesome, Vega...); offline, the pages lose their styling and the index tables, drawn by
bootstrap-table, come out empty. `fetch_assets` downloads the exact versions GX names, as npm
tarballs pinned by their sha512 integrity, into gx/uncommitted/docs_assets (at install time: `make
install`, and again on first use if that failed). `localize_site` copies them into the site's
`static/vendor/` and points every page at them, after each docs build (gx/checkpoints.py).

Standard library only: urllib, tarfile, hashlib. Set NPM_CONFIG_REGISTRY to use a mirror.

    python -m gx.docs fetch        # what `make install` runs
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import re
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path

log = logging.getLogger(__name__)

CACHE = Path(__file__).resolve().parent / "uncommitted" / "docs_assets"
VENDOR = Path("static") / "vendor"
S3_IMAGES = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"

# npm package@version -> (sha512 integrity from the registry, the files of it the pages use)
PACKAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "jquery@3.7.1": (
        "m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
        ("dist/jquery.min.js",),
    ),
    "popper.js@1.12.9": (
        "s0EEi9xiSCdqz9lV4IiVH5yIZnDX/U1t0tCjB+0jXx9jW8lrR7kOpVupiUg175ogqVoudpDXHF1p6dKATCHMeg==",
        ("dist/umd/popper.min.js",),
    ),
    "bootstrap@4.3.1": (
        "rXqOmH1VilAt2DyPzluTi2blhk17bO7ef+zLLPlWvG494pDxcM234pJ8wTc/6R40UWizAIIMgxjvxZg5kmsbag==",
        ("dist/css/bootstrap.min.css", "dist/js/bootstrap.min.js"),
    ),
    "bootstrap-table@1.19.1": (
        "WvV+l1AI/C+zThaKmfHmi/IuayVNB0qdFyEhFx1jyZhO0oLtNJNANkCR3rvJf6Dkh72dsLElxpE/bzK9seEQLA==",
        (
            "dist/bootstrap-table.min.css",
            "dist/bootstrap-table.min.js",
            "dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
        ),
    ),
    "bootstrap-table@1.19.0": (
        "L+USHm3X9FKocx/6yngGu12yF6r6s1Ntuc+hoIK2a2QQJjHw5kcySLiE2HY/9sEaSGAOfPbfQOtBH3uKkcpqEA==",
        (
            "dist/extensions/filter-control/bootstrap-table-filter-control.css",
            "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
        ),
    ),
    "bootstrap-datepicker@1.9.0": (
        "9rYYbaVOheGYxjOr/+bJCmRPihfy+LkLSg4fIFMT9Od8WwWB/MB50w0JO1eBgKUMbb7PFHQD5uAfI3ArAxZRXA==",
        ("dist/css/bootstrap-datepicker.min.css", "dist/js/bootstrap-datepicker.min.js"),
    ),
    "@forevolve/bootstrap-dark@1.1.0": (
        "A3ucpEpxPoTVO490lZZCfjPXxv832l7mm1IxX3bXyxvgwnPGXDLyh7dWrphXKO8YBAu3EswbBEu3VSW8NRMW3A==",
        ("dist/css/bootstrap-prefers-dark.css",),
    ),
    "@fortawesome/fontawesome-free@6.6.0": (
        "60G28ke/sXdtS9KZCpZSHHkCbdsOGEhIUGlwq6yhY74UpTiToIh8np7A8yphhM4BWsvNFtIvLpi4co+h9Mr9Ow==",
        ("css/all.min.css", "webfonts/"),
    ),
    # GX asks for the newest of a major version (vega@5); pinned to what that was on 2026-11-21
    "vega@5.33.1": (
        "1fArfVDUqVbb5z8n+/nVQb+VNBzx8svY6CrsyTK4Ujm4yrd9I1auoKxBAPXLCavY1LcrbHUskQbGUP8gXOzyQw==",
        ("build/vega.min.js",),
    ),
    "vega-lite@5.23.0": (
        "l4J6+AWE3DIjvovEoHl2LdtCUkfm4zs8Xxx7INwZEAv+XVb6kR6vIN1gt3t2gN2gs/y4DYTs/RPoTeYAuEg6mA==",
        ("build/vega-lite.min.js",),
    ),
    "vega-embed@6.29.0": (
        "PmlshTLtLFLgWtF/b23T1OwX53AugJ9RZ3qPE2c01VFAbgt3/GSNI/etzA/GzdrkceXFma+FDHNXUppKuM0U6Q==",
        ("build/vega-embed.min.js",),
    ),
}

_UNPKG, _CDNJS = "https://unpkg.com/", "https://cdnjs.cloudflare.com/ajax/libs/"
_FILTER = "dist/extensions/filter-control/bootstrap-table-filter-control"
# URL in GX's templates -> (package, file)
URLS: dict[str, tuple[str, str]] = {
    "https://cdn.jsdelivr.net/npm/vega@5": ("vega@5.33.1", "build/vega.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-lite@5": ("vega-lite@5.23.0", "build/vega-lite.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-embed@6": ("vega-embed@6.29.0", "build/vega-embed.min.js"),
    f"{_CDNJS}font-awesome/6.6.0/css/all.min.css": ("@fortawesome/fontawesome-free@6.6.0", "css/all.min.css"),
    "https://code.jquery.com/jquery-3.7.1.min.js": ("jquery@3.7.1", "dist/jquery.min.js"),
    f"{_CDNJS}popper.js/1.12.9/umd/popper.min.js": ("popper.js@1.12.9", "dist/umd/popper.min.js"),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        "bootstrap@4.3.1", "dist/js/bootstrap.min.js"),
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        "bootstrap@4.3.1", "dist/css/bootstrap.min.css"),
    f"{_UNPKG}bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        "bootstrap-table@1.19.1", "dist/bootstrap-table.min.js"),
    f"{_UNPKG}bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        "bootstrap-table@1.19.1", "dist/bootstrap-table.min.css"),
    f"{_UNPKG}bootstrap-table@1.19.1/{_FILTER}.min.js": ("bootstrap-table@1.19.1", f"{_FILTER}.min.js"),
    f"{_UNPKG}bootstrap-table@1.19.0/{_FILTER}.min.css": ("bootstrap-table@1.19.0", f"{_FILTER}.min.css"),
    f"{_UNPKG}bootstrap-table@1.19.0/{_FILTER}.css": ("bootstrap-table@1.19.0", f"{_FILTER}.css"),
    f"{_CDNJS}bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker@1.9.0", "dist/js/bootstrap-datepicker.min.js"),
    f"{_CDNJS}bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker@1.9.0", "dist/css/bootstrap-datepicker.min.css"),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "@forevolve/bootstrap-dark@1.1.0", "dist/css/bootstrap-prefers-dark.css"),
}  # fmt: skip
# Subresource integrity needs CORS, which file:// pages cannot give: the attributes go with the CDN.
_SRI = re.compile(r'\s+(?:integrity="[^"]*"|crossorigin="[^"]*")')


def _tarball_url(spec: str) -> str:
    name, version = spec.rsplit("@", 1)
    registry = os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org").rstrip("/")
    return f"{registry}/{name}/-/{name.rsplit('/', 1)[-1]}-{version}.tgz"


def _fetch(spec: str, target: Path) -> None:
    integrity, keep = PACKAGES[spec]
    # bandit B310 (schemes): the pinned npm registry's https URL
    with urllib.request.urlopen(_tarball_url(spec), timeout=60) as response:  # nosec B310
        data = response.read()
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != integrity:
        raise RuntimeError(f"{spec}: the tarball's sha512 does not match the pinned integrity")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            path = member.name.split("/", 1)[-1]  # npm tarballs hold one top folder, usually package/
            if member.isfile() and any(path == k or (k.endswith("/") and path.startswith(k)) for k in keep):
                out = partial / path
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(archive.extractfile(member).read())
    missing = [k for k in keep if not (partial / k).exists()]
    if missing:
        raise RuntimeError(f"{spec}: the tarball has no {', '.join(missing)}")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)


def fetch_assets(cache: Path = CACHE) -> Path:
    """Download (once) every pinned package's files into `cache`; returns `cache`."""
    for spec in PACKAGES:
        target = cache / spec
        if not target.is_dir():
            target.parent.mkdir(parents=True, exist_ok=True)
            log.info("fetching %s from the npm registry", spec)
            _fetch(spec, target)
    return cache


def _rewrite(html: str, prefix: str, logo: bool) -> str:
    for url, (spec, path) in URLS.items():
        html = html.replace(f'"{url}"', f'"{prefix}{VENDOR.as_posix()}/{spec}/{path}"')
    if logo:
        html = html.replace(S3_IMAGES, f"{prefix}static/images/")
    return _SRI.sub("", html)


def localize_site(site: Path, cache: Path = CACHE, since: float | None = None) -> int:
    """Point the data docs pages at local copies of their assets; the number of pages changed.

    `since` (a `time.time()`): only pages written from then on, i.e. by the docs build that just ran
    (earlier pages were localized by earlier runs; reading them all again grows with history). The
    first time a site gets its assets, every page is done. If the assets cannot be fetched (no
    registry), the pages keep their CDN links and a warning says so.
    """
    if not site.is_dir():
        return 0
    try:
        fetch_assets(cache)
    except OSError as error:
        log.warning("data docs keep their CDN links (offline they lose styles and tables): %s", error)
        return 0
    if not (site / VENDOR).is_dir():
        since = None
    for spec in PACKAGES:
        if not (site / VENDOR / spec).is_dir():
            shutil.copytree(cache / spec, site / VENDOR / spec)
    logo = (site / "static" / "images" / "logo-long.png").is_file()
    changed = 0
    for page in site.rglob("*.html"):
        if since is not None and page.stat().st_mtime < since:
            continue
        html = page.read_text(encoding="utf-8")
        if "https://" not in html:
            continue
        prefix = "../" * (len(page.relative_to(site).parts) - 1)
        rewritten = _rewrite(html, prefix, logo)
        if rewritten != html:
            page.write_text(rewritten, encoding="utf-8")
            changed += 1
    return changed


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if sys.argv[1:] != ["fetch"]:
        sys.exit("usage: python -m gx.docs fetch")
    try:
        print(f"data docs assets ready in {fetch_assets()}")
    except OSError as error:  # an install without the registry still works; the docs then need a network
        print(f"warning: could not fetch the data docs assets ({error}); will retry on first use")
