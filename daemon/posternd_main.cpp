#include <cstdio>
int main() { std::puts("posternd"); return 0; }
