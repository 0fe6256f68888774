// Placeholder test file referenced by the example spec (its existence is what is checked).
export {};
