// Empty: lets package main declare the bodyless linkname functions of
// syscalls.go (entersyscall, exitsyscall).
