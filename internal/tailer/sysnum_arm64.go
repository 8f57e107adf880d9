package tailer

import "syscall"

const sysFstatat = syscall.SYS_FSTATAT
