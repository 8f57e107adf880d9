package tailer

import "syscall"
import "unsafe"

// The system calls of a pass over a followed file, made raw: without
// telling the Go runtime that the goroutine may block. The runtime's
// usual entry wakes its monitor thread when it sleeps, and on a quiet
// machine that thread then wakes and sleeps again at every pass: more
// than the pass itself costs (docs/performance.md). These calls do not
// block for long on a local file system's cached data, which is what a
// followed log is; a file on a network file system is read with the
// usual calls instead (local).

// rawPread is pread(2) on fd at off.
func rawPread(fd int, p []byte, off int64) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := syscall.RawSyscall6(syscall.SYS_PREAD64, uintptr(fd), uintptr(ptr), uintptr(len(p)), uintptr(off), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// rawFstat is fstat(2).
func rawFstat(fd int, st *syscall.Stat_t) error {
	if _, _, e := syscall.RawSyscall(syscall.SYS_FSTAT, uintptr(fd), uintptr(unsafe.Pointer(st)), 0); e != 0 {
		return e
	}
	return nil
}

// rawStat is stat(2) of path, a NUL-terminated name (syscall.ByteSliceFromString).
func rawStat(path []byte, st *syscall.Stat_t) error {
	const atFDCWD = -0x64
	fdcwd := atFDCWD
	if _, _, e := syscall.RawSyscall6(sysFstatat, uintptr(fdcwd), uintptr(unsafe.Pointer(&path[0])), uintptr(unsafe.Pointer(st)), 0, 0, 0); e != 0 {
		return e
	}
	return nil
}

// rawRead is read(2), for the inotify descriptor, which never blocks.
func rawRead(fd int, p []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// Magic numbers of statfs(2)'s f_type (linux/magic.h) for file systems
// whose reads wait on a network.
var remoteFileSystems = map[int64]bool{
	0x6969:     true, // NFS
	0x517b:     true, // SMB
	0xff534d42: true, // CIFS
	0xfe534d42: true, // SMB2
	0x65735546: true, // FUSE
	0x00c36400: true, // Ceph
	0x01021997: true, // 9P
	0x5346414f: true, // AFS
	0x0bd00bd0: true, // Lustre
	0x01161970: true, // GFS2
}

// isLocal says whether fd's file is on a local file system, whose cached
// data the raw calls read without waiting on a network.
func isLocal(fd int) bool {
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(fd, &st); err != nil {
		return false
	}
	return !remoteFileSystems[int64(st.Type)]
}

// pread reads fs's file at off: raw on a local file system. A read a
// signal interrupted is made again, for the splitter and the head check
// alike.
func (fs *fileState) pread(p []byte, off int64) (int, error) {
	for {
		var n int
		var err error
		if fs.raw {
			n, err = rawPread(fs.fd, p, off)
		} else {
			n, err = syscall.Pread(fs.fd, p, off)
		}
		if err != syscall.EINTR {
			return n, err
		}
	}
}

// fstat stats fs's file: raw on a local file system.
func (fs *fileState) fstat(st *syscall.Stat_t) error {
	if fs.raw {
		return rawFstat(fs.fd, st)
	}
	return syscall.Fstat(fs.fd, st)
}

// stat stats path, the followed path, NUL-terminated: raw when fs's file
// is on a local file system (the path names a file in the same directory).
func (fs *fileState) stat(path []byte, st *syscall.Stat_t) error {
	if fs.raw {
		return rawStat(path, st)
	}
	return syscall.Stat(string(path[:len(path)-1]), st)
}
