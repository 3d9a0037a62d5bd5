// Re-exports for the helper tests, plus the host clock they decide with.
export { MandateAgent, Pdp, createProof } from 'mandate-pdp';
export function unixNowForTests() {
  return Math.floor(Date.now() / 1000);
}
