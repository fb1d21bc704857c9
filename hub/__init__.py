"""The Hub (control plane), served with Litestar."""
