"""Generative models: autoencoders and VAEs, RBM/DBN, GMMN, autoregressive models, GAN networks."""
from kerasdl.models.generative import (  # noqa: F401
    autoencoder, autoregressive, gan_networks, gmmn, rbm, vae, vae_gan)
