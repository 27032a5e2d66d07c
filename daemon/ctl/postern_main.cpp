#include <cstdio>
int main() { std::puts("postern"); return 0; }
