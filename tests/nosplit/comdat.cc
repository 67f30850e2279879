// comdat.cc — C++ inline nosplit functions: each is emitted in a section
// of its own named gort_nosplit (one per comdat group), so an object has
// several sections of that name; their code must still be checked.  The
// attribute goes on a declaration first: g++ refuses no_split_stack on a
// definition (gort.h's GORT_NOSPLIT leaves it out under g++).
#define NSDECL __attribute__((no_split_stack))
#define NSDEF __attribute__((section("gort_nosplit")))

__attribute__((noinline)) inline int ns_cxx_leaf(int x) NSDECL;
__attribute__((noinline)) inline int ns_cxx_mid(int x) NSDECL;

NSDEF inline int ns_cxx_leaf(int x)
{
	volatile char b[1500];
	b[0] = (char)x;
	return b[x & 7] + b[1];
}

NSDEF inline int ns_cxx_mid(int x)
{
	volatile char b[1500];
	b[0] = (char)x;
	return ns_cxx_leaf(b[x & 7]) + b[1];
}

int cxx_top(int x) { return ns_cxx_mid(x) + 1; }
