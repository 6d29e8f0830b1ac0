// The VAE family (issue 5): owned by the VAE engineer.
export {};
