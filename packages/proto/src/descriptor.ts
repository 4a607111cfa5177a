import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of the binary FileDescriptorSet of proto/tabby/v1 (imports included). */
export function descriptorSetPath(): string {
  return fileURLToPath(new URL('./gen/tabby.binpb', import.meta.url));
}

/** The binary FileDescriptorSet of the Tabby contract, for gRPC server reflection. */
export function loadDescriptorSet(): Buffer {
  return readFileSync(descriptorSetPath());
}
