"""Private, atomic file writes: 0600 files and 0700 directories whatever the umask."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from chatcli.core.errors import ChatError, UsageError

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
_READ_SIZE = 1 << 20
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


class NotRegularFile(Exception):
    """The path names a directory, a pipe, a device or a socket: chatcli only reads and writes plain files."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"is {kind}, not a regular file")


class FileTooLarge(Exception):
    """A file holds more than the reader's limit (whatever its size on disk says: /proc, growing files)."""


def check_regular(mode: int) -> None:
    """NotRegularFile unless `mode` (from stat) is a regular file's."""
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    raise NotRegularFile(kind)


def check_regular_or_absent(path: Path) -> None:
    """NotRegularFile when `path` exists (following symlinks) and is not a regular file: nothing to write over."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    check_regular(mode)


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of the regular file `path`, reading at most `limit` (FileTooLarge past it).

    A pipe, a device or a directory is refused before it is read (NotRegularFile), so /dev/zero, a FIFO or
    a terminal can neither hang chatcli nor fill its memory; FileNotFoundError and other OSErrors pass."""
    check_regular(path.stat().st_mode)
    # O_NONBLOCK: should the path be swapped for a FIFO after the check, opening it still cannot block.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        check_regular(os.fstat(fd).st_mode)
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, min(_READ_SIZE, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise FileTooLarge
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_user_file(
    path: Path,
    limit: int,
    what: str,
    *,
    fix: str = "",
    too_large: str = "",
    error: type[ChatError] = UsageError,
) -> bytes:
    """The bytes of the file the user named (read_regular_file), or `error` saying why in one line, with `what`
    naming the file: `{what} is a directory, not a regular file; {fix}`, `{what} is larger than {limit} bytes;
    {too_large}`, `{what} cannot be read ({reason}); {fix}` (the parts after `;` only when given)."""
    try:
        return read_regular_file(path, limit)
    except NotRegularFile as problem:
        message = f"{what} {problem}"
        remedy = fix
    except FileTooLarge:
        message = f"{what} is larger than {limit} bytes"
        remedy = too_large
    except OSError as problem:
        message = f"{what} cannot be read ({problem.strerror or type(problem).__name__})"
        remedy = fix
    raise error(f"{message}; {remedy}" if remedy else message) from None


def make_private_dir(path: Path) -> None:
    """Create `path` and any missing parents as 0700 (Path.mkdir would give the parents the umask's mode).

    Directories that already exist keep their mode: they are the user's."""
    missing: list[Path] = []
    while not path.is_dir():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=PRIVATE_DIR)
            os.chmod(directory, PRIVATE_DIR)


def create_private_file(path: Path) -> None:
    """Create an empty 0600 file unless it exists (then make it 0600), so later appends by other code keep it
    private. A symbolic link is refused (NotRegularFile), never followed: the mode of the file it points to is
    not chatcli's to change."""
    make_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, PRIVATE_FILE)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise NotRegularFile("a symbolic link (never followed)") from None
        raise
    try:
        check_regular(os.fstat(fd).st_mode)
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that readers see the old file or the new one, never a mix.

    The data goes to a 0600 temp file in the same directory, is fsynced, renamed over `path`, and the
    directory is fsynced. On Linux the temp file is anonymous (O_TMPFILE) while it is written and gets a
    name only for the rename, so even SIGKILL mid-write leaves no temp file behind. On any failure the
    temp file is removed and the old file is left byte-identical.
    """
    directory = path.parent
    make_private_dir(directory)
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        temp_name = _write_anonymous(dir_fd, path.name, data) or _write_named(dir_fd, path.name, data)
        with _removed_on_failure(temp_name, dir_fd):
            os.replace(temp_name, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        try:
            os.fsync(dir_fd)
        except OSError as error:  # some file systems cannot fsync a directory; the rename has happened
            if error.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
                raise
    finally:
        os.close(dir_fd)


def _temp_name(name: str) -> str:
    return f".{name}.{os.urandom(6).hex()}.tmp"


def _write_anonymous(dir_fd: int, name: str, data: bytes) -> str | None:
    """Write `data` to an O_TMPFILE file and link it in under a temp name; None where that is unsupported."""
    flags = getattr(os, "O_TMPFILE", 0)
    if not flags or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        fd = os.open(".", flags | os.O_WRONLY, PRIVATE_FILE, dir_fd=dir_fd)
    except OSError:  # the file system does not support O_TMPFILE
        return None
    try:
        _fill(fd, data)
        while True:
            temp_name = _temp_name(name)
            try:
                # linkat(AT_SYMLINK_FOLLOW) on the /proc link gives the anonymous file a name;
                # passing a dir_fd makes os.link use linkat rather than link.
                os.link(f"/proc/self/fd/{fd}", temp_name, dst_dir_fd=dir_fd, follow_symlinks=True)
            except FileExistsError:
                continue
            except OSError:  # a sandbox that refuses the link: fall back to a named temp file
                return None
            return temp_name
    finally:
        os.close(fd)


def _write_named(dir_fd: int, name: str, data: bytes) -> str:
    while True:
        temp_name = _temp_name(name)
        try:
            fd = os.open(temp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE, dir_fd=dir_fd)
        except FileExistsError:
            continue
        break
    try:
        with _removed_on_failure(temp_name, dir_fd):
            _fill(fd, data)
    finally:
        os.close(fd)
    return temp_name


@contextlib.contextmanager
def _removed_on_failure(temp_name: str, dir_fd: int) -> Iterator[None]:
    """The temp file is removed when what is done with it fails, Ctrl-C included: no debris beside the file."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name, dir_fd=dir_fd)
        raise


def _fill(fd: int, data: bytes) -> None:
    os.fchmod(fd, PRIVATE_FILE)  # a umask such as 0277 strips bits even from 0600
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)
