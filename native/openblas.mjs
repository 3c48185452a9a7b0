// Prints the linker arguments for OpenBLAS (binding.gyp runs this): its static archive where the
// system has one (Debian/Ubuntu: libopenblas-pthread-dev, built with DYNAMIC_ARCH, so the kernel
// for the user's CPU is chosen at run time), so the addon needs no libopenblas.so where it runs;
// otherwise the shared library. INHERITUNE_OPENBLAS_A names an archive explicitly.
import { existsSync } from 'node:fs';

const archives = [
  process.env.INHERITUNE_OPENBLAS_A,
  '/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.a',
  '/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.a',
  '/usr/lib64/libopenblas.a',
  '/usr/lib/libopenblas.a',
].filter(Boolean);
const archive = archives.find((a) => existsSync(a));
// --exclude-libs keeps OpenBLAS's symbols out of the addon's exports (no clash with another BLAS
// loaded in the same process); -lpthread and -lm are glibc's.
process.stdout.write(archive ? `${archive} -Wl,--exclude-libs,ALL -lpthread -lm` : '-lopenblas');
