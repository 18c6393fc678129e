"""Frame access for video files (PyAV) and JPEG frame folders (Pillow).

One definition of a frame index everywhere: for a video file, index ``i`` is the ``i``-th frame
the decoder outputs (presentation order, from 0); for a frame folder, it is the number in the
file name (``img_00001.jpg`` is frame 1, EPIC's ``frame_0000000001.jpg`` is frame 1), so the
frame ranges of the official annotations can be used as they are. ``VideoInfo`` gives
``first_index`` so callers never need to know which kind they hold.

``open_video(path)`` opens a file once for everything a clip needs: its ``info`` (frame count,
which for webm/mkv means demuxing every packet) and ``read(indices)`` share the container and the
demuxed packets, so a dataset item opens and demuxes its file once. ``video_info`` and
``read_video_frames`` are the one-call forms.

Sparse reads are the hot path of training (16 frames out of hundreds), so video decoding:

* demuxes the packets first (cheap, no decoding) and maps each packet to its presentation index,
* starts at the last key frame before the first wanted frame and jumps ahead to a later key frame
  whenever that skips enough packets ("seek only where it is cheaper"),
* lets the decoder drop non-reference frames that are not wanted (``skip_frame=NONREF``: no other
  frame depends on them, so the wanted frames are bit-exact),
* converts to RGB (and resizes, in libswscale, on uint8) only the wanted frames.

Files whose timestamps do not allow this (missing or duplicate pts, out-of-order output, fewer
packets than the wanted index) raise the one fallback signal, ``_Fallback``: the same open file is
then decoded in order from its first packet with a counter, which defines the same indices.

av and PIL are imported inside the functions: ``import litevid`` needs only torch, numpy, rich.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

__all__ = ["IMAGE_EXTENSIONS", "VideoInfo", "VideoSource", "frame_path", "open_video",
           "read_video_frames", "video_info"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")

# Packets read past the highest wanted frame before ranking timestamps: B-frame reordering is a
# few frames deep, so later packets cannot hold an earlier presentation time.
_REORDER_MARGIN = 32
# Jump to a later key frame only when it saves at least this many packets of decoding.
_MIN_SKIP_PACKETS = 8
_FRAME_NAME = re.compile(r"^(?P<prefix>.*?)(?P<num>\d+)(?P<ext>\.(?:jpe?g|png))$", re.IGNORECASE)


@dataclass(frozen=True)
class VideoInfo:
    """What a reader needs to know before sampling.

    Attributes:
        frames: number of frames.
        fps: frames per second (``None`` for frame folders, which carry no timing).
        width: frame width in pixels.
        height: frame height in pixels.
        first_index: index of the first frame (0 for videos, the first file number for folders).
        kind: ``"video"`` or ``"frames"``.
        declared_frames: frames the container's header promises (its duration x fps) when
            ``frames`` had to be counted from the packets present (webm, mkv): a file cut short
            holds fewer. ``None`` when the header says nothing or the count is the header's.
    """

    frames: int
    fps: float | None
    width: int
    height: int
    first_index: int = 0
    kind: str = "video"
    declared_frames: int | None = None

    @property
    def duration(self) -> float | None:
        return self.frames / self.fps if self.fps else None

    @property
    def truncated(self) -> str | None:
        """Why the file looks cut short (fewer frames than its header's duration promises, by
        more than a tenth), else ``None``. Frames past the cut cannot be sampled, so a clip
        sampled from such a file covers only its beginning."""
        declared = self.declared_frames
        if declared is None or self.frames >= 0.9 * declared - 1:
            return None
        return f"cut short: {self.frames} frames, its header declares {declared}"


# ----------------------------------------------------------------------------- frame folders


@functools.lru_cache(maxsize=4096)
def _folder_layout(folder: str) -> tuple[str, int, str, int, int, int]:
    """Naming of a frame folder: (prefix, digits, extension, count, first, last).

    ``digits`` is the zero-padded width, or 0 when numbers are not padded. Cached per process:
    EPIC folders hold tens of thousands of frames and are listed once, not once per clip.
    """
    if not os.path.isdir(folder):
        if os.path.exists(folder):
            raise ValueError(f"{folder}: not a frame folder (it is a file; a video file needs a "
                             "video extension such as .mp4 or .webm)")
        raise FileNotFoundError(f"{folder}: frame folder not found")
    numbers: list[int] = []
    lengths: set[int] = set()
    padded = False
    layout: tuple[str, str] | None = None
    with os.scandir(folder) as entries:
        for entry in entries:
            m = _FRAME_NAME.match(entry.name)
            if not m:
                continue
            key = (m["prefix"], m["ext"])
            if layout is None:
                layout = key
            elif key != layout:
                continue  # other files (flow_x_..., thumbnails) are not frames of this stream
            digits = m["num"]
            numbers.append(int(digits))
            lengths.add(len(digits))
            padded = padded or (len(digits) > 1 and digits[0] == "0")
    if layout is None:
        raise FileNotFoundError(f"{folder}: no frame images (*.jpg, *.png) in the folder")
    width = max(lengths) if padded or len(lengths) == 1 else 0
    return layout[0], width, layout[1], len(numbers), min(numbers), max(numbers)


def frame_path(folder: str | os.PathLike, index: int) -> str:
    """Path of frame ``index`` (the number in the file name) in a frame folder."""
    prefix, digits, ext, *_ = _folder_layout(os.fspath(folder))
    name = f"{prefix}{index:0{digits}d}{ext}" if digits else f"{prefix}{index}{ext}"
    return os.path.join(os.fspath(folder), name)


def _target_size(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    if short_side is None or min(width, height) == short_side:
        return width, height
    scale = short_side / min(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _read_image(path: str, short_side: int | None) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as img:
            w, h = _target_size(img.width, img.height, short_side)
            if (w, h) != img.size:
                # JPEG: decode at a reduced DCT scale when that is still >= the target size.
                img.draft("RGB", (w, h))
            img = img.convert("RGB")
            if img.size != (w, h):
                img = img.resize((w, h), Image.BILINEAR)
            return np.asarray(img)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: frame not found") from None
    except OSError as exc:  # PIL raises OSError/UnidentifiedImageError for corrupt files
        raise ValueError(f"{path}: cannot decode image ({exc})") from None


def _folder_info(folder: str) -> VideoInfo:
    from PIL import Image

    _prefix, _digits, _ext, count, first, _last = _folder_layout(folder)
    first_file = frame_path(folder, first)
    try:
        with Image.open(first_file) as img:
            width, height = img.size
    except OSError as exc:
        raise ValueError(f"{first_file}: cannot read image ({exc})") from None
    return VideoInfo(frames=count, fps=None, width=width, height=height, first_index=first,
                     kind="frames")


def _read_folder(folder: str, wanted: np.ndarray, short_side: int | None) -> list[np.ndarray]:
    images = [_read_image(frame_path(folder, int(i)), short_side) for i in wanted]
    shape = images[0].shape
    for i, img in zip(wanted, images):
        if img.shape != shape:
            raise ValueError(f"{frame_path(folder, int(i))}: frame size {img.shape[1]}x"
                             f"{img.shape[0]} differs from {shape[1]}x{shape[0]} in the same folder")
    return images


# ----------------------------------------------------------------------------- video files


def _open(path: str) -> Any:
    import av

    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: video file not found")
    try:
        container = av.open(path)
    except av.FFmpegError as exc:
        raise ValueError(f"{path}: cannot open video ({_av_reason(exc)})") from None
    if not container.streams.video:
        container.close()
        raise ValueError(f"{path}: no video stream in the file")
    return container


def _av_reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(";")[0].strip() or type(exc).__name__


_REFORMATTER: tuple[int, Any] | None = None
_INHERITED: list[Any] = []


def _reformatter() -> Any:
    """One reformatter per process keeps its cached swscale context across files (building it
    costs more than converting 16 frames). Keyed by pid: a context inherited through fork refers
    to the parent's worker threads, which do not exist in a DataLoader worker, so the child must
    neither use nor free it (freeing joins those threads and hangs); it is parked, never freed."""
    global _REFORMATTER
    if _REFORMATTER is None or _REFORMATTER[0] != os.getpid():
        from av.video.reformatter import VideoReformatter

        if _REFORMATTER is not None:
            _INHERITED.append(_REFORMATTER[1])
        _REFORMATTER = (os.getpid(), VideoReformatter())
    return _REFORMATTER[1]


def _convert(frame: Any, size: tuple[int, int] | None) -> np.ndarray:
    """RGB uint8, resized in libswscale when ``size`` differs from the frame."""
    if size is None or size == (frame.width, frame.height):
        return _reformatter().reformat(frame, format="rgb24").to_ndarray()
    return _reformatter().reformat(frame, width=size[0], height=size[1],
                                   format="rgb24").to_ndarray()


class _Fallback(Exception):
    """The sparse path cannot place every wanted frame; decode in order instead."""


def _decode_sparse(video: _VideoFile, wanted: np.ndarray, size_of: Any) -> dict[int, np.ndarray]:
    """Sparse decode by packet timestamps (see module docstring); raises _Fallback if unsafe."""
    import av

    max_wanted = int(wanted[-1])
    limit = max_wanted + _REORDER_MARGIN + 1
    packets = [p for p in video.packets(limit) if not p.is_discard][:limit]
    if max_wanted >= len(packets) or any(p.pts is None for p in packets):
        # Too few packets is not "too short" yet: packets are not always frames (AVI packs two
        # frames in one), so the in-order decoder has the last word.
        raise _Fallback
    pts = np.array([p.pts for p in packets], dtype=np.int64)
    if len(np.unique(pts)) != len(pts):
        raise _Fallback
    order = np.argsort(pts, kind="stable")
    rank = np.empty(len(pts), dtype=np.int64)
    rank[order] = np.arange(len(pts))  # presentation index of each packet (decode order)
    index_of_pts = {int(p): int(r) for p, r in zip(pts, rank)}
    wanted_set = set(int(i) for i in wanted)
    wanted_pkt = np.zeros(len(packets), dtype=bool)
    wanted_pkt[[int(order[i]) for i in wanted]] = True
    keys = [d for d, p in enumerate(packets) if p.is_keyframe]
    if not keys or keys[0] != 0:
        keys = [0, *keys]

    def start_for(index: int) -> int:
        """Decode position of the last key frame that can start decoding towards ``index``."""
        target_pos, target_pts = int(order[index]), int(pts[order[index]])
        best = keys[0]
        for k in keys:
            if k > target_pos:
                break
            if pts[k] <= target_pts:  # open-GOP leading frames need the previous key frame
                best = k
        return best

    ctx = video.stream.codec_context
    out: dict[int, np.ndarray] = {}
    last_index = -1

    def take(frames: list[Any]) -> None:
        nonlocal last_index
        for frame in frames:
            idx = index_of_pts.get(frame.pts)
            if idx is None or idx <= last_index:
                raise _Fallback  # output not in presentation order: the counter defines indices
            last_index = idx
            if idx in wanted_set and idx not in out:
                out[idx] = _convert(frame, size_of(frame))

    # Frames come out in presentation order, so pending[0] is always the next wanted one and
    # every wanted frame before it is already in ``out``.
    pending = sorted(wanted_set)
    pos = start_for(pending[0])
    while pending:
        k = start_for(pending[0])
        if k > pos + _MIN_SKIP_PACKETS:
            # Jump to a later key frame; what the decoder still buffers is not wanted.
            ctx.flush_buffers()
            pos, last_index = k, -1
        if pos >= len(packets):
            break
        ctx.skip_frame = "DEFAULT" if wanted_pkt[pos] else "NONREF"
        try:
            take(ctx.decode(packets[pos]))
        except av.FFmpegError as exc:
            raise ValueError(f"{video.path}: cannot decode video ({_av_reason(exc)})") from None
        pos += 1
        while pending and pending[0] in out:
            pending.pop(0)
    if pending:  # drain the frames still held for reordering
        ctx.skip_frame = "DEFAULT"
        take(ctx.decode(None))
        pending = [i for i in pending if i not in out]
    if pending:
        raise _Fallback
    return out


def _decode_in_order(video: _VideoFile, wanted: np.ndarray,
                     size_of: Any) -> tuple[dict[int, np.ndarray], int]:
    """Reference path: decode every packet from the first, counting output frames, up to the
    last wanted one. Reuses the open file and its demuxed packets; the decoder is reset first
    (a sparse attempt may have left it mid-stream or drained)."""
    import av

    ctx = video.stream.codec_context
    ctx.flush_buffers()
    ctx.skip_frame = "DEFAULT"
    out: dict[int, np.ndarray] = {}
    wanted_set = set(int(i) for i in wanted)
    max_wanted = int(wanted[-1])
    count = 0

    def frames() -> Any:
        pos = 0
        while pos < len(held := video.packets(pos + 1, discard=True)):
            yield from ctx.decode(held[pos])
            pos += 1
        yield from ctx.decode(None)  # the frames still held for reordering

    try:
        for frame in frames():
            if count in wanted_set:
                out[count] = _convert(frame, size_of(frame))
            count += 1
            if count > max_wanted:
                break
    except av.FFmpegError as exc:
        if not out and count == 0:
            raise ValueError(f"{video.path}: cannot decode video ({_av_reason(exc)})") from None
        # A corrupt tail: report it as too short unless every wanted frame came out.
    return out, count


# ----------------------------------------------------------------------------- opened sources


class VideoSource:
    """A video file or frame folder opened once: ``info`` and ``read`` share it.

    Use as a context manager (``with open_video(path) as video: ...``); ``close`` releases the
    file. See the module docstring for what a frame index means.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the file (nothing to release for a folder)."""

    @property
    def info(self) -> VideoInfo:
        """Frame count, fps and size (computed once)."""
        raise NotImplementedError

    def _read_unique(self, wanted: np.ndarray, short_side: int | None) -> list[np.ndarray]:
        raise NotImplementedError

    def read(self, indices: Sequence[int] | np.ndarray, *,
             short_side: int | None = None) -> np.ndarray:
        """Frames ``indices`` as ``uint8`` ``(N, H, W, 3)`` RGB (see ``read_video_frames``)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size == 0:
            raise ValueError(f"{self.path}: no frame indices requested")
        wanted = np.unique(idx)
        frames = self._read_unique(wanted, short_side)
        lookup = {int(i): k for k, i in enumerate(wanted)}
        out = np.empty((len(idx), *frames[0].shape), dtype=np.uint8)
        for j, i in enumerate(idx):
            out[j] = frames[lookup[int(i)]]
        return out


class _FrameFolder(VideoSource):
    @functools.cached_property
    def info(self) -> VideoInfo:
        return _folder_info(self.path)

    def _read_unique(self, wanted: np.ndarray, short_side: int | None) -> list[np.ndarray]:
        return _read_folder(self.path, wanted, short_side)


class _VideoFile(VideoSource):
    """One PyAV container; packets are demuxed on demand and kept for every later use."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.container = _open(path)
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "SLICE"  # frame threads would delay the per-packet skip decisions
        self.stream.thread_count = 1  # one core per loader worker; use more workers, not threads
        self.all_packets: list[Any] = []  # packets with data, in decode order (discard ones too)
        self._frames = 0  # packets in all_packets that are frames (not flagged discard)
        self._demuxer: Any = None

    def close(self) -> None:
        self.all_packets = []
        self.container.close()

    def packets(self, n: int | None, *, discard: bool = False) -> list[Any]:
        """Demux (no decoding) until ``n`` frame packets are held, or to the end with ``None``;
        returns all held packets (with ``discard``, counting every packet). Raises FFmpegError."""
        if self._demuxer is None:
            self._demuxer = self.container.demux(self.stream)
        while n is None or (len(self.all_packets) if discard else self._frames) < n:
            packet = next(self._demuxer, None)
            if packet is None:
                break
            if packet.size:
                self.all_packets.append(packet)
                self._frames += not packet.is_discard
        return self.all_packets

    @functools.cached_property
    def info(self) -> VideoInfo:
        import av

        stream = self.stream
        frames = int(stream.frames or 0)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        declared = None
        if frames <= 0:  # webm/mkv carry no frame count: count packets (demux only, no decode)
            try:
                self.packets(None)
            except av.FFmpegError as exc:
                raise ValueError(f"{self.path}: corrupt video ({_av_reason(exc)})") from None
            frames = self._frames
            seconds = (float(stream.duration * stream.time_base)
                       if stream.duration and stream.time_base else
                       self.container.duration / 1e6 if self.container.duration else None)
            if seconds and rate:
                declared = round(seconds * float(rate))
        ctx = stream.codec_context
        return VideoInfo(frames=frames, fps=float(rate) if rate else None, width=ctx.width,
                         height=ctx.height, declared_frames=declared)

    def _read_unique(self, wanted: np.ndarray, short_side: int | None) -> list[np.ndarray]:
        import av

        if wanted[0] < 0:
            raise ValueError(f"{self.path}: negative frame index {int(wanted[0])}")
        sizes: dict[tuple[int, int], tuple[int, int]] = {}

        def size_of(frame: Any) -> tuple[int, int]:
            key = (frame.width, frame.height)
            if key not in sizes:
                sizes[key] = _target_size(frame.width, frame.height, short_side)
            return sizes[key]

        try:
            out = _decode_sparse(self, wanted, size_of)
        except _Fallback:
            out, count = _decode_in_order(self, wanted, size_of)
            missing = [int(i) for i in wanted if int(i) not in out]
            if missing:
                raise ValueError(f"{self.path}: video too short or truncated: frame {missing[0]} "
                                 f"requested, only {count} frames decode") from None
        except av.FFmpegError as exc:
            raise ValueError(f"{self.path}: corrupt video ({_av_reason(exc)})") from None
        return [out[int(i)] for i in wanted]


# ----------------------------------------------------------------------------- public API


def _is_folder(path: str) -> bool:
    return os.path.isdir(path) or (not os.path.exists(path) and not os.path.splitext(path)[1])


def open_video(path: str | os.PathLike) -> VideoSource:
    """Open a video file (anything FFmpeg reads) or a folder of numbered JPEG/PNG frames once,
    for its ``info`` and any number of ``read`` calls.

    Raises:
        FileNotFoundError: the video file does not exist (a folder is checked when used).
        ValueError: it exists but cannot be opened as video (message names the file).
    """
    path = os.fspath(path)
    return _FrameFolder(path) if _is_folder(path) else _VideoFile(path)


def video_info(path: str | os.PathLike) -> VideoInfo:
    """Frame count, fps and size of a video file or a JPEG frame folder.

    Raises:
        FileNotFoundError: the file or folder does not exist.
        ValueError: it exists but cannot be read as video (message names the file).
    """
    with open_video(path) as video:
        return video.info


def read_video_frames(path: str | os.PathLike, indices: Sequence[int] | np.ndarray, *,
                      short_side: int | None = None) -> np.ndarray:
    """Frames ``indices`` of a video file or frame folder as ``uint8`` ``(N, H, W, 3)`` RGB.

    Indices may repeat and come in any order (short clips repeat frames); each distinct frame is
    decoded once. See the module docstring for what an index means.

    Args:
        path: video file (anything FFmpeg reads) or folder of numbered JPEG/PNG frames.
        indices: frame indices to return, in the order wanted.
        short_side: resize so the shorter side has this many pixels (aspect kept) while
            converting, on uint8; ``None`` keeps the stored size.

    Raises:
        FileNotFoundError: missing file, folder or frame image.
        ValueError: corrupt or truncated file, or an index past the end (message names the file).
    """
    with open_video(path) as video:
        return video.read(indices, short_side=short_side)


def clear_folder_cache() -> None:
    """Forget cached frame-folder listings (after frames were added or removed)."""
    _folder_layout.cache_clear()
