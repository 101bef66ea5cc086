// Axios does not go through fetch, so two interceptors add the token and answer a 401 with one retry.
import axios from 'axios';

/**
 * @param {import('@wristband/typescript-m2m-auth').WristbandM2MClient} m2m the process's shared M2M client
 * @param {string} baseURL the protected service
 */
export function createReportsApi(m2m, baseURL) {
  const api = axios.create({ baseURL });

  api.interceptors.request.use(async (config) => {
    config.m2mToken = await m2m.getToken();
    config.headers.set('Authorization', `Bearer ${config.m2mToken}`);
    return config;
  });

  api.interceptors.response.use(undefined, async (error) => {
    const config = error.config;
    if (error.response?.status !== 401 || !config || config.m2mRetried) throw error;
    m2m.clearToken(config.m2mToken); // retires only the token that was rejected
    config.m2mRetried = true;
    return api.request(config);
  });

  return api;
}
