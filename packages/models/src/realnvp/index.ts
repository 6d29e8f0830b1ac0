// Owned by the realnvp engineer (see the issue).
export {};
