/* A nosplit function that calls libc, code without checks: its stack use
 * is not counted. */
#include <unistd.h>
#include "ns.h"

NS long ns_write(int fd)
{
	return write(fd, "x", 1);
}

SPLIT long split_caller(int fd) { return ns_write(fd); }

#ifdef NS_MAIN
int main(int argc, char **argv)
{
	(void)argv;
	return (int)split_caller(argc);
}
#endif
