#!/usr/bin/env python3
"""The expected parameters of tests/unit/test_rules.c: each learning rule in float64,
three steps from W = [1, -2] (W_lr_scale 0.5), b = [0.5, 0.25], learning rate 0.1."""
import numpy as np
P0 = [np.array([1.0, -2.0]), np.array([0.5, 0.25])]
LS = [0.5, 1.0]
G = [[np.array([0.2, -0.4]), np.array([1.0, -0.5])],
     [np.array([-0.1, 0.3]), np.array([0.5, 0.5])],
     [np.array([0.4, 0.1]), np.array([-1.0, 2.0])]]
lr = 0.1
def run(kind, **k):
    p = [x.copy() for x in P0]
    s = [[np.zeros(2), np.zeros(2)] for _ in p]
    sched = 1.0
    for t in range(1, 4):
        b1, b2, eps = k.get('b1', .9), k.get('b2', .999), k.get('eps', 1e-8)
        if kind == 'nadam':
            sd = 0.004
            ct = b1 * (1 - 0.5 * 0.96 ** (t * sd)); ct1 = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * sd))
            sched_new = sched * ct; sched_next = sched_new * ct1
        for i in range(2):
            g = G[t-1][i]; l = lr * LS[i]; a, b = s[i]
            if kind == 'plain': p[i] = p[i] - l * g
            elif kind == 'momentum':
                mu = k['mu']; a[:] = mu * a - l * g
                p[i] = p[i] + (mu * a - l * g if k.get('nesterov') else a)
            elif kind == 'adagrad':
                a += g * g
                p[i] = p[i] - l * g / (np.maximum(np.sqrt(a), 1 / k['ms']) if 'ms' in k else np.sqrt(a + 1e-6))
            elif kind == 'rmsprop':
                d = k.get('decay', .9); a[:] = d * a + (1 - d) * g * g
                p[i] = p[i] - l * g / np.maximum(np.sqrt(a), 1 / k.get('ms', 1e5))
            elif kind == 'adadelta':
                d = k.get('decay', .95); a[:] = d * a + (1 - d) * g * g
                dx = -np.sqrt(b + l) / np.sqrt(a + l) * g
                b[:] = d * b + (1 - d) * dx * dx
                p[i] = p[i] + dx
            elif kind == 'adam':
                a[:] = b1 * a + (1 - b1) * g; b[:] = b2 * b + (1 - b2) * g * g
                p[i] = p[i] - l * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * a / (np.sqrt(b) + eps)
            elif kind == 'adamax':
                a[:] = b1 * a + (1 - b1) * g; b[:] = np.maximum(b2 * b, np.abs(g))
                p[i] = p[i] - l / (1 - b1 ** t) * a / (b + eps)
            elif kind == 'nadam':
                gp = g / (1 - sched_new)
                a[:] = b1 * a + (1 - b1) * g; mp = a / (1 - sched_next)
                b[:] = b2 * b + (1 - b2) * g * g; vp = b / (1 - b2 ** t)
                mbar = (1 - ct) * gp + ct1 * mp
                p[i] = p[i] - l * mbar / (np.sqrt(vp) + eps)
        if kind == 'nadam': sched = sched_new
    return np.concatenate(p)
cases = [('plain', {}), ('momentum', {'mu': 0.5}), ('momentum', {'mu': 0.5, 'nesterov': 1}), ('adagrad', {}), ('adagrad', {'ms': 3.0}),
         ('rmsprop', {}), ('rmsprop', {'decay': 0.5, 'ms': 2.0}), ('adadelta', {}), ('adam', {}), ('adamax', {}), ('nadam', {})]
for kind, k in cases:
    print(kind, k, '{' + ', '.join('%.9g' % v for v in run(kind, **k)) + '}')
